namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>The two listeners of a sidecar.</summary>
public enum SidecarListener
{
    Http,
    Grpc,
}

/// <summary>A sidecar could not listen because another process holds one of its ports.</summary>
public sealed class PortInUseException(SidecarListener listener, int port, Exception cause)
    : IOException($"{(listener == SidecarListener.Http ? "HTTP" : "gRPC")} port {port} is already in use by another process", cause)
{
    public SidecarListener Listener { get; } = listener;
    public int Port { get; } = port;
}
