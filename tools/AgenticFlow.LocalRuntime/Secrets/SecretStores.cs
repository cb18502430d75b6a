using System.Text.Json;

namespace AgenticFlow.LocalRuntime.Secrets;

/// <summary>A secret store: one secret is a map of names to values (most stores hold one value under the secret's name).</summary>
public interface ISecretStore
{
    /// <summary>Null when the store has no secret of that name.</summary>
    IReadOnlyDictionary<string, string>? Get(string name);

    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetAll();
}

/// <summary><c>secretstores.local.file</c>: a JSON file, nested objects flattened with <c>nestedSeparator</c>
/// unless <c>multiValued</c> keeps each top-level object as one secret of several values.</summary>
public sealed class LocalFileSecretStore : ISecretStore
{
    private readonly Dictionary<string, Dictionary<string, string>> _secrets = new(StringComparer.Ordinal);

    public LocalFileSecretStore(string path, string separator, bool multiValued)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"secrets file '{Path.GetFullPath(path)}' does not exist");
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"secrets file '{path}' must hold a JSON object");
        }
        foreach (var top in doc.RootElement.EnumerateObject())
        {
            if (multiValued && top.Value.ValueKind == JsonValueKind.Object)
            {
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                Flatten(top.Value, "", separator, (k, v) => values[k] = v);
                _secrets[top.Name] = values;
            }
            else
            {
                Flatten(top.Value, top.Name, separator, (k, v) => _secrets[k] = new() { [k] = v });
            }
        }
    }

    private static void Flatten(JsonElement element, string prefix, string separator, Action<string, string> add)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in element.EnumerateObject())
                {
                    Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + separator + p.Name, separator, add);
                }
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, prefix + separator + i++, separator, add);
                }
                break;
            case JsonValueKind.String:
                add(prefix, element.GetString()!);
                break;
            default:
                add(prefix, element.GetRawText());
                break;
        }
    }

    public IReadOnlyDictionary<string, string>? Get(string name) => _secrets.GetValueOrDefault(name);

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetAll() =>
        _secrets.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, string>)kv.Value, StringComparer.Ordinal);
}

/// <summary><c>secretstores.local.env</c>: environment variables, optionally only those with a <c>prefix</c>.</summary>
public sealed class EnvSecretStore(string prefix) : ISecretStore
{
    public IReadOnlyDictionary<string, string>? Get(string name)
    {
        var value = Environment.GetEnvironmentVariable(prefix + name);
        return value is null ? null : new Dictionary<string, string> { [name] = value };
    }

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetAll()
    {
        var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                var name = key[prefix.Length..];
                result[name] = new Dictionary<string, string> { [name] = (string?)e.Value ?? "" };
            }
        }
        return result;
    }
}
