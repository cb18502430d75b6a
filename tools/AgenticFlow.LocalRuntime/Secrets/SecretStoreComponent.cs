namespace AgenticFlow.LocalRuntime.Secrets;

public sealed record SecretStoreComponent(string Name, string Type, ISecretStore Store);
