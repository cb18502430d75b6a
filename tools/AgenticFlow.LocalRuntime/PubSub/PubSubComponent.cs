using AgenticFlow.LocalRuntime.Timing;

namespace AgenticFlow.LocalRuntime.PubSub;

public sealed record PubSubComponent(string Name, string Type, IPubSubBroker Broker, RetryPolicy InboundRetry);
