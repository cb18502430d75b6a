using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgenticFlow.IntegrationTests;

/// <summary><c>pubsub.redis</c> through a Redis that stops answering for a while (SIGSTOP, then SIGCONT).</summary>
public class RedisStreamsOutageTests
{
    [Fact]
    public async Task ReadsAndReclaimsThatTimeOut_DoNotEndDelivery_NorFailTheClose()
    {
        await using var redis = new PrivateRedis();
        await redis.StartAsync();
        var config = ConfigurationOptions.Parse(redis.Address);
        config.AsyncTimeout = config.SyncTimeout = 1000;
        config.AbortOnConnectFail = false;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(config);
        var log = new RecordingLogger();
        // The reader as the component registry configures it: RESP2, a timeout longer than a blocking read.
        var reader = config.Clone();
        reader.AsyncTimeout = reader.SyncTimeout = 15_000;
        reader.Protocol = RedisProtocol.Resp2;
        var broker = new RedisStreamsBroker(connection, reader, 0,
            new RedisStreamsOptions("c1", ProcessingTimeout: TimeSpan.FromMilliseconds(500), RedeliverInterval: TimeSpan.FromMilliseconds(200), Concurrency: 4, MaxLenApprox: null), log);
        var attempts = 0;
        var redelivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscription = await broker.SubscribeAsync("orders", "g1", (_, _) =>
        {
            // The first delivery fails, so only the reclaim loop can hand the message out again.
            if (Interlocked.Increment(ref attempts) == 1)
            {
                throw new InvalidOperationException("the first delivery fails");
            }
            redelivered.TrySetResult();
            return Task.CompletedTask;
        }, CancellationToken.None);

        // Stopped right after the subscription started: its first read and its reclaims time out.
        redis.Signal("STOP");
        try
        {
            await Eventually.True(() => log.Lines.Any(l => l.Contains("Reclaiming pending entries of orders failed", StringComparison.Ordinal)),
                "a reclaim timing out while Redis does not answer", 60);
        }
        finally
        {
            redis.Signal("CONT");
        }
        await broker.PublishAsync("orders", new BrokerMessage("m1", Encoding.UTF8.GetBytes("{}"), new Dictionary<string, string>()), CancellationToken.None);

        var finished = await Task.WhenAny(redelivered.Task, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == redelivered.Task, $"not handed out again within 60 s after {attempts} deliveries; log: {string.Join(" | ", log.Lines)}");
        await subscription.DisposeAsync();
        await broker.DisposeAsync();
    }

    private sealed class RecordingLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception));
    }
}
