using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// Sends finished spans off the request path: a bounded queue (a span that finds it full is dropped and counted,
/// never waited for), drained by one background loop in batches of up to <see cref="MaxBatch"/> as Zipkin v2 JSON
/// to the Configuration's endpoint, and/or one JSON line per span on the console (<c>stdout: true</c>). A batch the
/// endpoint does not take is logged and dropped (no retry: tracing must not pile up behind a slow collector).
/// </summary>
public sealed class SpanExporter : IAsyncDisposable
{
    public const int MaxBatch = 512;
    private static readonly Meter Meter = new("AgenticFlow.LocalRuntime.Tracing");
    private static readonly Counter<long> DroppedCounter = Meter.CreateCounter<long>("agenticflow.sidecar.spans.dropped", description: "Spans a sidecar dropped because its export queue was full or the endpoint refused them");
    private static readonly Counter<long> ExportedCounter = Meter.CreateCounter<long>("agenticflow.sidecar.spans.exported", description: "Spans a sidecar sent to its tracing endpoint");

    private readonly Channel<SidecarSpan> _queue;
    private readonly TracingSpec _spec;
    private readonly HttpClient? _http;
    private readonly ILogger _logger;
    private readonly TextWriter _stdout;
    private readonly TimeSpan _linger;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _flushNow = new();
    private readonly Task _loop;
    private readonly KeyValuePair<string, object?> _appTag;
    private long _dropped, _queueFull, _exported, _failedBatches;
    private int _disposed;
    private readonly int _capacity;

    public SpanExporter(string appId, TracingSpec spec, HttpClient? http, ILogger logger, int capacity = 8192, TimeSpan? linger = null, TextWriter? stdout = null)
    {
        _spec = spec;
        _http = http;
        _logger = logger;
        _stdout = stdout ?? Console.Out;
        _linger = linger ?? TimeSpan.FromMilliseconds(200);
        _appTag = new("app_id", appId);
        _capacity = capacity;
        _queue = Channel.CreateBounded<SidecarSpan>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        // The loop is started without the caller's execution context, so no request's trace context rides along on the exports.
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Spans dropped since start: the queue was full, or the endpoint did not take their batch.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    public long Exported => Interlocked.Read(ref _exported);
    public long FailedBatches => Interlocked.Read(ref _failedBatches);

    /// <summary>Queues a finished span; never blocks.</summary>
    public void Enqueue(SidecarSpan span)
    {
        if (!_queue.Writer.TryWrite(span))
        {
            DroppedCounter.Add(1, _appTag);
            Interlocked.Increment(ref _dropped);
            // The first drop and then one line a thousand: the log must not grow with the overload.
            if (Interlocked.Increment(ref _queueFull) % 1000 == 1)
            {
                _logger.LogWarning("The span queue is full ({Capacity}); {Dropped} spans dropped at a full queue so far", _capacity, Interlocked.Read(ref _queueFull));
            }
        }
    }

    private async Task RunAsync()
    {
        var batch = new List<SidecarSpan>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stop.Token))
            {
                // A short wait lets a burst of spans share one request.
                if (_queue.Reader.Count < MaxBatch && !_queue.Reader.Completion.IsCompleted)
                {
                    try
                    {
                        await Task.Delay(_linger, _flushNow.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var span))
                {
                    batch.Add(span);
                }
                try
                {
                    await SendAsync(batch);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Whatever went wrong with one batch (a closed console, a handler's fault), the loop goes on.
                    Failed(batch.Count, ex.GetType().Name, ex);
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendAsync(List<SidecarSpan> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }
        if (_spec.Stdout)
        {
            foreach (var span in batch)
            {
                _stdout.WriteLine(System.Text.Encoding.UTF8.GetString(ZipkinJson.Write([span])));
            }
        }
        if (_spec.ZipkinEndpoint is not { } endpoint || _http is null)
        {
            return;
        }
        try
        {
            using var content = new ByteArrayContent(ZipkinJson.Write(batch));
            content.Headers.ContentType = new("application/json");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var response = await _http.PostAsync(endpoint, content, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Add(ref _exported, batch.Count);
                ExportedCounter.Add(batch.Count, _appTag);
                return;
            }
            Failed(batch.Count, $"{(int)response.StatusCode}", null);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            Failed(batch.Count, ex.GetType().Name, ex);
        }
    }

    private void Failed(int spans, string why, Exception? ex)
    {
        Interlocked.Add(ref _dropped, spans);
        DroppedCounter.Add(spans, _appTag);
        // The first failure and then one in a hundred: a collector that is down must not flood the log.
        if (Interlocked.Increment(ref _failedBatches) % 100 == 1)
        {
            _logger.LogWarning(ex, "Could not send {Spans} spans to {Endpoint} ({Why}); dropped", spans, _spec.ZipkinEndpoint?.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped), why);
        }
    }

    /// <summary>Sends what is queued (for up to five seconds), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _queue.Writer.TryComplete();
        await _flushNow.CancelAsync();
        if (await Task.WhenAny(_loop, Task.Delay(TimeSpan.FromSeconds(5))) != _loop)
        {
            await _stop.CancelAsync();
        }
        try
        {
            await _loop;
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "The span export loop ended with an error");
        }
        _stop.Dispose();
        _flushNow.Dispose();
    }
}

/// <summary>Zipkin's v2 span list: ids in hex, times in microseconds since the epoch.</summary>
public static class ZipkinJson
{
    public static byte[] Write(IReadOnlyCollection<SidecarSpan> spans)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var span in spans)
            {
                json.WriteStartObject();
                var context = span.Context!.Value;
                json.WriteString("traceId", context.TraceId.ToHexString());
                json.WriteString("id", context.SpanId.ToHexString());
                if (span.ParentId is { } parent)
                {
                    json.WriteString("parentId", parent);
                }
                json.WriteString("name", span.Name);
                json.WriteString("kind", span.Kind == SpanKind.Server ? "SERVER" : "CLIENT");
                json.WriteNumber("timestamp", (span.Start - DateTimeOffset.UnixEpoch).Ticks / 10);
                json.WriteNumber("duration", Math.Max(1, span.Duration.Ticks / 10));
                json.WriteStartObject("localEndpoint");
                json.WriteString("serviceName", span.ServiceName);
                json.WriteEndObject();
                json.WriteStartObject("tags");
                foreach (var (key, value) in span.Tags)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return buffer.ToArray();
    }
}
