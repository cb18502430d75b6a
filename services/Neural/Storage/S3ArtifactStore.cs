using Minio;
using Minio.DataModel.Args;
using Minio.Exceptions;

namespace AgenticFlow.Neural.Storage;

/// <summary>Artifacts in one bucket of S3-compatible storage (MinIO, S3, s3rver in tests), path-style through the
/// Minio client. The client is built on first use with credentials read from the secret store.</summary>
public sealed class S3ArtifactStore(Func<CancellationToken, Task<IMinioClient>> connect, string bucket) : IArtifactStore
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IMinioClient? _client;

    public async Task PutAsync(string key, byte[] content, CancellationToken ct)
    {
        var client = await ClientAsync(ct);
        using var stream = new MemoryStream(content, writable: false);
        await client.PutObjectAsync(new PutObjectArgs().WithBucket(bucket).WithObject(key).WithStreamData(stream)
            .WithObjectSize(content.LongLength).WithContentType("application/octet-stream"), ct);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken ct)
    {
        var client = await ClientAsync(ct);
        using var buffer = new MemoryStream();
        try
        {
            await client.GetObjectAsync(new GetObjectArgs().WithBucket(bucket).WithObject(key)
                .WithCallbackStream(async (stream, token) => await stream.CopyToAsync(buffer, token)), ct);
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
        return buffer.ToArray();
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        var client = await ClientAsync(ct);
        await client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(bucket).WithObject(key), ct);
    }

    private async Task<IMinioClient> ClientAsync(CancellationToken ct)
    {
        if (_client is { } ready)
        {
            return ready;
        }
        await _gate.WaitAsync(ct);
        try
        {
            if (_client is null)
            {
                var client = await connect(ct);
                if (!await client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket), ct))
                {
                    await client.MakeBucketAsync(new MakeBucketArgs().WithBucket(bucket), ct);
                }
                _client = client;
            }
            return _client;
        }
        finally
        {
            _gate.Release();
        }
    }
}
