using System.Text;
using System.Text.Json;

namespace AgenticFlow.LocalRuntime.Bindings;

public sealed record BindingResponse(byte[] Data, IReadOnlyDictionary<string, string> Metadata);

/// <summary>An output binding: an operation with data and metadata in, data and metadata out.</summary>
public interface IOutputBinding
{
    IReadOnlyList<string> Operations { get; }

    Task<BindingResponse> InvokeAsync(string operation, byte[] data, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken);
}

public sealed class BindingException(string message) : Exception(message);

/// <summary><c>bindings.localstorage</c>: files under <c>rootPath</c>; operations create, get, list, delete.</summary>
public sealed class LocalStorageBinding : IOutputBinding
{
    private readonly string _root;

    public LocalStorageBinding(string rootPath)
    {
        _root = Path.GetFullPath(rootPath);
        Directory.CreateDirectory(_root);
    }

    public IReadOnlyList<string> Operations { get; } = ["create", "get", "list", "delete"];

    public async Task<BindingResponse> InvokeAsync(string operation, byte[] data, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        switch (operation)
        {
            case "create":
            {
                var name = metadata.GetValueOrDefault("fileName") is { Length: > 0 } given ? given : Guid.NewGuid().ToString();
                var path = Resolve(name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                var bytes = data;
                if (metadata.TryGetValue("decodeBase64", out var decode) && decode == "true")
                {
                    bytes = Convert.FromBase64String(Encoding.UTF8.GetString(data).Trim('"'));
                }
                await File.WriteAllBytesAsync(path, bytes, cancellationToken);
                var json = JsonSerializer.SerializeToUtf8Bytes(new { fileName = name });
                return new BindingResponse(json, new Dictionary<string, string> { ["fileName"] = name });
            }
            case "get":
            {
                var path = Resolve(Required(metadata, "fileName"));
                if (!File.Exists(path))
                {
                    throw new BindingException($"file {metadata["fileName"]} does not exist");
                }
                return new BindingResponse(await File.ReadAllBytesAsync(path, cancellationToken), new Dictionary<string, string>());
            }
            case "list":
            {
                var files = Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories)
                    .Select(f => Path.GetRelativePath(_root, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
                return new BindingResponse(JsonSerializer.SerializeToUtf8Bytes(files), new Dictionary<string, string>());
            }
            case "delete":
            {
                var path = Resolve(Required(metadata, "fileName"));
                if (!File.Exists(path))
                {
                    throw new BindingException($"file {metadata["fileName"]} does not exist");
                }
                File.Delete(path);
                return new BindingResponse([], new Dictionary<string, string>());
            }
            default:
                throw new BindingException($"binding does not support operation {operation}; supported: {string.Join(", ", Operations)}");
        }
    }

    private static string Required(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var v) && v.Length > 0 ? v : throw new BindingException($"metadata '{key}' is required");

    private string Resolve(string fileName)
    {
        var full = Path.GetFullPath(Path.Combine(_root, fileName));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new BindingException($"fileName '{fileName}' points outside the binding's rootPath");
        }
        return full;
    }
}
