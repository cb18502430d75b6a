using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgenticFlow.Neural.Domain;

/// <summary>Training data as named columns of text cells: what inline JSON rows and CSV files both become.</summary>
public sealed class Tabular
{
    public Tabular(IReadOnlyList<string> columns, IReadOnlyList<string?[]> rows)
    {
        Columns = columns;
        Rows = rows;
    }

    public IReadOnlyList<string> Columns { get; }
    public IReadOnlyList<string?[]> Rows { get; }

    public int IndexOf(string column) => Columns.ToList().FindIndex(c => string.Equals(c, column, StringComparison.Ordinal));

    /// <summary>A column is numeric when every non-empty cell parses as a number (invariant culture).</summary>
    public bool IsNumeric(int column) =>
        Rows.All(r => string.IsNullOrEmpty(r[column]) || float.TryParse(r[column], NumberStyles.Float, CultureInfo.InvariantCulture, out _));

    /// <summary>The data as CSV (header first): how inline rows are staged, and what the fingerprint is taken of.</summary>
    public byte[] ToCsv()
    {
        var text = new StringBuilder();
        text.AppendLine(string.Join(',', Columns.Select(Quote)));
        foreach (var row in Rows)
        {
            text.AppendLine(string.Join(',', row.Select(c => Quote(c ?? ""))));
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>SHA-256 of the staged CSV: the data lineage recorded with each version.</summary>
    public static string Fingerprint(byte[] csv) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(csv));

    private static string Quote(string cell) =>
        cell.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;

    /// <summary>Inline rows: a JSON array of objects whose values are numbers, strings or booleans.</summary>
    public static Tabular FromJsonRows(JsonElement rows, int maxRows, List<string> errors)
    {
        if (rows.ValueKind != JsonValueKind.Array || rows.GetArrayLength() == 0)
        {
            errors.Add("data must be a non-empty array of rows, {\"csv\": text} or {\"artifact\": key}");
            return Empty;
        }
        if (rows.GetArrayLength() > maxRows)
        {
            errors.Add($"at most {maxRows} inline rows");
            return Empty;
        }
        var columns = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var cells = new List<Dictionary<int, string?>>();
        var n = 0;
        foreach (var row in rows.EnumerateArray())
        {
            n++;
            if (row.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"row {n} is not an object");
                return Empty;
            }
            var values = new Dictionary<int, string?>();
            foreach (var property in row.EnumerateObject())
            {
                if (!TryCell(property.Value, out var cell))
                {
                    errors.Add($"row {n}, column {property.Name}: values are numbers, strings, booleans or null");
                    return Empty;
                }
                if (!index.TryGetValue(property.Name, out var i))
                {
                    index[property.Name] = i = columns.Count;
                    columns.Add(property.Name);
                }
                values[i] = cell;
            }
            cells.Add(values);
        }
        return new Tabular(columns, cells.Select(v => Enumerable.Range(0, columns.Count).Select(i => v.GetValueOrDefault(i)).ToArray()).ToList());
    }

    public static bool TryCell(JsonElement value, out string? cell)
    {
        cell = value.ValueKind switch
        {
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.String => value.GetString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        };
        return value.ValueKind is JsonValueKind.Number or JsonValueKind.String or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null;
    }

    /// <summary>RFC 4180 CSV with a header row; every record must have the header's number of fields.</summary>
    public static Tabular FromCsv(string text, int maxRows, List<string> errors)
    {
        var records = new List<List<string>>();
        var field = new StringBuilder();
        var record = new List<string>();
        var quoted = false;
        var wasQuoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
                continue;
            }
            switch (c)
            {
                case '"' when field.Length == 0 && !wasQuoted:
                    quoted = wasQuoted = true;
                    break;
                case '"':
                    errors.Add($"CSV record {records.Count + 1}: a quote inside an unquoted field");
                    return Empty;
                case ',':
                    record.Add(field.ToString());
                    field.Clear();
                    wasQuoted = false;
                    break;
                case '\r':
                    break;
                case '\n':
                    record.Add(field.ToString());
                    field.Clear();
                    wasQuoted = false;
                    records.Add(record);
                    record = [];
                    if (records.Count > maxRows + 1)
                    {
                        errors.Add($"at most {maxRows} CSV rows");
                        return Empty;
                    }
                    break;
                default:
                    field.Append(c);
                    break;
            }
        }
        if (quoted)
        {
            errors.Add("CSV ends inside a quoted field");
            return Empty;
        }
        if (field.Length > 0 || record.Count > 0 || wasQuoted)
        {
            record.Add(field.ToString());
            records.Add(record);
        }
        records.RemoveAll(r => r.Count == 1 && r[0].Length == 0);
        if (records.Count < 2)
        {
            errors.Add("CSV needs a header row and at least one data row");
            return Empty;
        }
        var header = records[0];
        if (header.Any(h => h.Length == 0) || header.Distinct(StringComparer.Ordinal).Count() != header.Count)
        {
            errors.Add("CSV header names must be non-empty and distinct");
            return Empty;
        }
        for (var r = 1; r < records.Count; r++)
        {
            if (records[r].Count != header.Count)
            {
                errors.Add($"CSV row {r} has {records[r].Count} fields; the header has {header.Count}");
                return Empty;
            }
        }
        return new Tabular(header, records.Skip(1).Select(r => r.Select(c => (string?)c).ToArray()).ToList());
    }

    private static readonly Tabular Empty = new([], []);
}
