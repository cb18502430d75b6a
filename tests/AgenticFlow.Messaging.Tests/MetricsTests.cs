using System.Diagnostics.Metrics;
using AgenticFlow.Messaging.Domain;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticFlow.Messaging.Tests;

public sealed class MetricsTests
{
    [Fact]
    public void DeliveryFiguresAndQueueDepth_AreMeasuredOnTheMessagingMeter()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new MessagingMetrics(services.GetRequiredService<IMeterFactory>());
        var seen = new List<(string Name, double Value, string? Tag)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => seen.Add((i.Name, v, Tag(tags))));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => seen.Add((i.Name, v, Tag(tags))));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => seen.Add((i.Name, v, Tag(tags))));
        listener.Start();

        metrics.Sent(Priority.High, "agent");
        metrics.Delivered(Priority.High, 1, TimeSpan.FromMilliseconds(12));
        metrics.DeadLettered("expired");
        metrics.ObserveDepth("a1", 7);
        listener.RecordObservableInstruments();

        Assert.Contains(("agenticflow.messaging.sent", 1d, "high"), seen);
        Assert.Contains(("agenticflow.messaging.delivered", 1d, "high"), seen);
        Assert.Contains(("agenticflow.messaging.queue_wait", 12d, "high"), seen);
        Assert.Contains(("agenticflow.messaging.dead_lettered", 1d, "expired"), seen);
        Assert.Contains(("agenticflow.messaging.queue_depth", 7d, "a1"), seen);
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key is "priority" or "reason" or "agent")
            {
                return tag.Value?.ToString();
            }
        }
        return null;
    }
}
