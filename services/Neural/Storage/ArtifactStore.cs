namespace AgenticFlow.Neural.Storage;

/// <summary>
/// Where model files and staged training data live: S3-compatible storage through the Minio client, or a local
/// folder for the embedded default. Keys are relative paths (<c>models/m1/versions/j1.zip</c>). There is no listing:
/// the registry in the state store says which artifacts exist (listing through Minio 7.0 against s3rver returns
/// nothing, and a registry that reads its own index never depends on it).
/// </summary>
public interface IArtifactStore
{
    Task PutAsync(string key, byte[] content, CancellationToken ct);

    /// <summary>The whole object, or null when there is none (no ranged reads: Minio 7.0 fails them).</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken ct);

    Task DeleteAsync(string key, CancellationToken ct);
}

/// <summary>Artifacts as files under one folder (the local profile of <c>tools/run.sh</c>).</summary>
public sealed class FolderArtifactStore(string root) : IArtifactStore
{
    private readonly string _root = Path.GetFullPath(root);

    public async Task PutAsync(string key, byte[] content, CancellationToken ct)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Written aside and moved into place, so a reader never sees half a model.
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await File.WriteAllBytesAsync(temporary, content, ct);
        File.Move(temporary, path, overwrite: true);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken ct)
    {
        var path = PathOf(key);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, ct) : null;
    }

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        File.Delete(PathOf(key));
        return Task.CompletedTask;
    }

    private string PathOf(string key)
    {
        var path = Path.GetFullPath(Path.Combine(_root, key));
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"artifact key {key} leaves the artifact folder", nameof(key));
        }
        return path;
    }
}
