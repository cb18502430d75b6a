namespace AgenticFlow.LocalRuntime.Bindings;

public sealed record BindingComponent(string Name, string Type, IOutputBinding? Output, CronSchedule? Schedule);
