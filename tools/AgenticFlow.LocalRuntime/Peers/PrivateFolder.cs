using System.Runtime.InteropServices;

namespace AgenticFlow.LocalRuntime.Peers;

/// <summary>
/// A folder that holds secrets (the name registry holds every sidecar's peer key): created with mode 0700, and
/// refused unless this user owns it and no one else may read, write or enter it, and unless no other user could
/// swap it or any folder above it: each must belong to this user or root, and one that others may write to must be
/// root's and sticky (like /tmp). The default registry lives under the shared temp folder, where another user
/// could otherwise make the folder, or its parent, first.
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
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder, OwnerOnly);
        }
        var info = new DirectoryInfo(folder);
        if (info.LinkTarget is not null)
        {
            throw Refused(folder, "is a symbolic link; remove it or choose another folder (AGENTICFLOW_RESOLVER_DIR)");
        }
        if ((info.UnixFileMode & OthersBits) != 0)
        {
            throw Refused(folder, $"may be used by other users (mode {Convert.ToString((int)info.UnixFileMode, 8)}); it must be 0700: chmod 700 '{folder}'");
        }
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var me = geteuid();
        // A check that cannot be made refuses: an unverified folder is what this guards against.
        var own = Stat(folder, follow: false) ?? throw Refused(folder, "cannot be checked (stat failed); choose another folder (AGENTICFLOW_RESOLVER_DIR)");
        if (own.Uid != me)
        {
            throw Refused(folder, $"belongs to user id {own.Uid}, not to this user ({me}); remove it or choose another folder (AGENTICFLOW_RESOLVER_DIR)");
        }
        for (var above = Path.GetDirectoryName(folder); above is not null; above = Path.GetDirectoryName(above))
        {
            foreach (var follow in new[] { false, true })
            {
                var entry = Stat(above, follow) ?? throw Refused(folder, $"lies under '{above}', which cannot be checked (stat failed)");
                if (entry.Uid != me && entry.Uid != 0)
                {
                    throw Refused(folder, $"lies under '{above}', which belongs to user id {entry.Uid}: that user could replace it; choose another folder (AGENTICFLOW_RESOLVER_DIR)");
                }
                const int GroupOrOtherWrite = 0x12, Sticky = 0x200, TypeMask = 0xF000, Link = 0xA000;
                if ((entry.Mode & TypeMask) != Link && (entry.Mode & GroupOrOtherWrite) != 0 && !(entry.Uid == 0 && (entry.Mode & Sticky) != 0))
                {
                    throw Refused(folder, entry.Uid == me
                        ? $"lies under '{above}', which other users may write to: chmod go-w '{above}'"
                        : $"lies under '{above}', which other users may write to and is not a sticky folder of root's; choose another folder (AGENTICFLOW_RESOLVER_DIR)");
                }
            }
        }
    }

    /// <summary>Creates <paramref name="folder"/> (and its missing parents) with mode 0700, and tightens it to 0700
    /// when it exists already and belongs to this user: the runtime's own folder may have been made by an older version
    /// under a looser umask.</summary>
    public static void CreateOwn(string folder)
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
        else if (OperatingSystem.IsLinux() && Stat(folder, follow: false) is { } own && own.Uid == geteuid() && (own.Mode & 0xF000) != 0xA000)
        {
            File.SetUnixFileMode(folder, OwnerOnly);
        }
    }

    /// <summary>Writes a file only this user may read, created new (never through a link someone planted), then
    /// moved into place.</summary>
    public static void WriteFile(string path, string text)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
        }
        File.Move(temp, path, overwrite: true);
    }

    private static InvalidOperationException Refused(string folder, string why) => new($"the runtime's private folder '{folder}' {why}");

    /// <summary>Owner and mode through statx(2), whose layout is the same on every Linux architecture.</summary>
    private static unsafe (uint Uid, int Mode)? Stat(string path, bool follow)
    {
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
        const uint StatxMode = 0x2, StatxUid = 0x8;
        var buffer = stackalloc byte[256];
        return statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, StatxMode | StatxUid, buffer) == 0
            ? (*(uint*)(buffer + 20), *(ushort*)(buffer + 28))
            : null;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
