using System.Threading.Channels;

namespace AgenticFlow.Neural.Inference;

/// <summary>
/// Micro-batching of concurrent single-row calls: calls queue their row; one worker per core takes whatever is
/// queued (up to <see cref="MaxBatch"/>) in one wake-up and predicts it with its own predictor (ML.NET's
/// PredictionEngine is not thread-safe, so each worker owns one). Many concurrent callers cost one hand-off per
/// batch instead of one per call, and no predictor is shared between threads.
/// </summary>
public sealed class MicroBatcher<TIn, TOut> : IDisposable
{
    public const int MaxBatch = 64;
    private readonly Channel<(TIn Row, TaskCompletionSource<TOut> Answer)> _queue =
        Channel.CreateUnbounded<(TIn, TaskCompletionSource<TOut>)>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly List<Task> _workers = [];

    public MicroBatcher(Func<Func<TIn, TOut>> newPredictor, int workers)
    {
        for (var i = 0; i < workers; i++)
        {
            var predict = newPredictor();
            _workers.Add(Task.Factory.StartNew(() => RunAsync(predict), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap());
        }
    }

    public Task<TOut> PredictAsync(TIn row)
    {
        var answer = new TaskCompletionSource<TOut>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((row, answer)))
        {
            answer.SetException(new ObjectDisposedException(nameof(MicroBatcher<TIn, TOut>)));
        }
        return answer.Task;
    }

    private async Task RunAsync(Func<TIn, TOut> predict)
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            for (var n = 0; n < MaxBatch && reader.TryRead(out var item); n++)
            {
                try
                {
                    item.Answer.SetResult(predict(item.Row));
                }
                catch (Exception ex)
                {
                    item.Answer.SetException(ex);
                }
            }
        }
    }

    public void Dispose() => _queue.Writer.TryComplete();
}
