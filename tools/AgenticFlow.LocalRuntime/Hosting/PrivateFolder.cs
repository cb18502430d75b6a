using System.Runtime.InteropServices;

namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>
/// A folder that holds secrets (the name registry holds every sidecar's peer key): created with mode 0700, and
/// refused unless this user owns it and no one else may read, write or enter it. The default registry lives under
/// the shared temp folder, where another user could have made the folder first.
/// </summary>
public static partial class PrivateFolder
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OthersBits = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static void Ensure(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
            return;
        }
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder, OwnerOnly);
        }
        var info = new DirectoryInfo(folder);
        if (info.LinkTarget is not null)
        {
            throw new InvalidOperationException($"the runtime's private folder '{folder}' is a symbolic link; remove it or choose another folder (AGENTICFLOW_RESOLVER_DIR)");
        }
        if ((info.UnixFileMode & OthersBits) != 0)
        {
            throw new InvalidOperationException($"the runtime's private folder '{folder}' may be used by other users (mode {Convert.ToString((int)info.UnixFileMode, 8)}); it must be 0700: chmod 700 '{folder}'");
        }
        if (OperatingSystem.IsLinux() && OwnerOf(folder) is { } owner && owner != geteuid())
        {
            throw new InvalidOperationException($"the runtime's private folder '{folder}' belongs to user id {owner}, not to this user ({geteuid()}); remove it or choose another folder (AGENTICFLOW_RESOLVER_DIR)");
        }
    }

    /// <summary>The owner's user id, through statx(2), whose layout is the same on every Linux architecture.</summary>
    private static unsafe uint? OwnerOf(string path)
    {
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, StatxUid = 0x8;
        var buffer = stackalloc byte[256];
        return statx(AtFdCwd, path, AtSymlinkNoFollow, StatxUid, buffer) == 0 ? *(uint*)(buffer + 20) : null;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
