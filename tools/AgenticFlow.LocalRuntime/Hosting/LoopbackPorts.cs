using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>Loopback ports for sidecars and apps: whether one is free, and free ones to hand out.</summary>
public static class LoopbackPorts
{
    private static readonly ConcurrentDictionary<int, bool> HandedOut = new();

    /// <summary>
    /// A loopback port that is free now, for a listener started a moment later. Taken from 10000-32767, below the
    /// kernel's ephemeral range, because a port from that range (what binding port 0 gives) can be taken by any
    /// outgoing connection before the listener binds it; never handed out twice by one process, nor a reserved one.
    /// </summary>
    public static int PickFree()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = attempt < 200 ? Random.Shared.Next(10000, 32768) : 0;
            if (port != 0 && !HandedOut.TryAdd(port, true))
            {
                continue;
            }
            if (TryBind(port) is { } bound)
            {
                HandedOut.TryAdd(bound, true);
                return bound;
            }
        }
    }

    /// <summary>Keeps <see cref="PickFree"/> away from a port that is named explicitly but not bound yet.</summary>
    public static void Reserve(int port) => HandedOut.TryAdd(port, true);

    /// <summary>True when nothing listens on the port on loopback (or on every address) at this moment.</summary>
    public static bool IsFree(int port) => TryBind(port) is not null;

    private static int? TryBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
