using Npgsql;

namespace AgenticFlow.LocalRuntime.State;

/// <summary>
/// daprd's PostgreSQL components read connection strings with pgx: libpq key=value pairs
/// (<c>host=… port=… user=… dbname=…</c>) or a URL (<c>postgres://user:pass@host:5432/db?sslmode=disable</c>).
/// The runtime talks to PostgreSQL through Npgsql, so it reads those forms into Npgsql's, and still takes Npgsql's own
/// (<c>Host=…;Username=…</c>), so one component file serves both.
/// </summary>
public static class PostgresConnectionString
{
    private static readonly Dictionary<string, string> PgxToNpgsql = new(StringComparer.OrdinalIgnoreCase)
    {
        ["host"] = "Host", ["hostaddr"] = "Host", ["port"] = "Port", ["user"] = "Username", ["password"] = "Password",
        ["dbname"] = "Database", ["sslmode"] = "SSL Mode", ["connect_timeout"] = "Timeout", ["application_name"] = "Application Name",
        ["search_path"] = "Search Path",
    };

    public static string ToNpgsql(string text)
    {
        text = text.Trim();
        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return FromUrl(new Uri(text));
        }
        if (SemicolonOutsideQuotes(text) || !text.Contains('='))
        {
            return text;
        }
        var builder = new NpgsqlConnectionStringBuilder();
        foreach (var (key, value) in KeyValues(text))
        {
            // pgx's own settings (pool sizes and the like) have no Npgsql meaning here: left out.
            if (PgxToNpgsql.TryGetValue(key, out var name))
            {
                builder[name] = key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? SslMode(value) : value;
            }
        }
        return builder.ConnectionString;
    }

    private static string FromUrl(Uri url)
    {
        var builder = new NpgsqlConnectionStringBuilder { Host = url.DnsSafeHost, Port = url.IsDefaultPort || url.Port < 0 ? 5432 : url.Port };
        var user = url.UserInfo.Split(':', 2);
        if (user[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(user[0]);
        }
        if (user.Length > 1)
        {
            builder.Password = Uri.UnescapeDataString(user[1]);
        }
        if (url.AbsolutePath.Trim('/') is { Length: > 0 } database)
        {
            builder.Database = Uri.UnescapeDataString(database);
        }
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = pair.Split('=', 2) is [var k, var v] ? (k, Uri.UnescapeDataString(v)) : (pair, "");
            if (PgxToNpgsql.TryGetValue(key, out var name) && name is not ("Host" or "Port" or "Username" or "Password" or "Database"))
            {
                builder[name] = key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? SslMode(value) : value;
            }
        }
        return builder.ConnectionString;
    }

    /// <summary>libpq key=value pairs, separated by spaces; a value may be single-quoted (with \' and \\ inside).</summary>
    private static IEnumerable<(string Key, string Value)> KeyValues(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            var eq = text.IndexOf('=', i);
            if (eq < 0)
            {
                yield break;
            }
            var key = text[i..eq].Trim();
            i = eq + 1;
            // libpq allows spaces around '='.
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            var value = new System.Text.StringBuilder();
            if (i < text.Length && text[i] == '\'')
            {
                for (i++; i < text.Length && text[i] != '\''; i++)
                {
                    value.Append(text[i] == '\\' && i + 1 < text.Length ? text[++i] : text[i]);
                }
                i++;
            }
            else
            {
                for (; i < text.Length && !char.IsWhiteSpace(text[i]); i++)
                {
                    value.Append(text[i]);
                }
            }
            yield return (key, value.ToString());
        }
    }

    /// <summary>Npgsql's form separates settings with ';'; libpq's may hold one only inside a quoted value.</summary>
    private static bool SemicolonOutsideQuotes(string text)
    {
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '\\' when quoted:
                    i++;
                    break;
                case '\'':
                    quoted = !quoted;
                    break;
                case ';' when !quoted:
                    return true;
            }
        }
        return false;
    }

    private static string SslMode(string pgx) => pgx.ToLowerInvariant() switch
    {
        "disable" => "Disable",
        "allow" => "Allow",
        "prefer" => "Prefer",
        "require" => "Require",
        "verify-ca" => "VerifyCA",
        "verify-full" => "VerifyFull",
        _ => pgx,
    };
}
