using System.Globalization;
using System.Text.Json;

namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>
/// The part of CEL that Dapr routing rules use in practice: <c>event.</c> paths, string/number/bool/null
/// literals, <c>== != &lt; &lt;= &gt; &gt;=</c>, <c>&amp;&amp; || !</c>, parentheses, <c>has(event.x)</c>, and the
/// string methods <c>startsWith</c>, <c>endsWith</c>, <c>contains</c>. An expression outside this subset fails at load.
/// </summary>
public sealed class RouteRule
{
    private readonly Func<JsonElement, object?> _eval;

    private RouteRule(Func<JsonElement, object?> eval) => _eval = eval;

    public static RouteRule Parse(string expression)
    {
        var parser = new Parser(expression);
        var eval = parser.ParseOr();
        parser.ExpectEnd();
        return new RouteRule(eval);
    }

    public bool Matches(JsonElement cloudEvent)
    {
        try
        {
            return _eval(cloudEvent) is true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private sealed class Parser(string text)
    {
        private int _pos;

        public void ExpectEnd()
        {
            SkipSpace();
            if (_pos < text.Length)
            {
                throw new FormatException($"unexpected '{text[_pos..]}' in rule '{text}'");
            }
        }

        public Func<JsonElement, object?> ParseOr()
        {
            var left = ParseAnd();
            while (Take("||"))
            {
                var l = left;
                var r = ParseAnd();
                left = e => l(e) is true || r(e) is true;
            }
            return left;
        }

        private Func<JsonElement, object?> ParseAnd()
        {
            var left = ParseComparison();
            while (Take("&&"))
            {
                var l = left;
                var r = ParseComparison();
                left = e => l(e) is true && r(e) is true;
            }
            return left;
        }

        private Func<JsonElement, object?> ParseComparison()
        {
            var left = ParseUnary();
            foreach (var op in new[] { "==", "!=", "<=", ">=", "<", ">" })
            {
                if (Take(op))
                {
                    var l = left;
                    var r = ParseUnary();
                    return e => Compare(op, l(e), r(e));
                }
            }
            return left;
        }

        private Func<JsonElement, object?> ParseUnary()
        {
            if (Take("!"))
            {
                var inner = ParseUnary();
                return e => inner(e) is not true;
            }
            return ParsePostfix(ParsePrimary());
        }

        private Func<JsonElement, object?> ParsePostfix(Func<JsonElement, object?> target)
        {
            foreach (var method in new[] { "startsWith", "endsWith", "contains" })
            {
                if (Take("." + method + "("))
                {
                    var arg = ParseOr();
                    Expect(")");
                    var t = target;
                    return e => (t(e), arg(e)) switch
                    {
                        (string s, string a) => method switch
                        {
                            "startsWith" => s.StartsWith(a, StringComparison.Ordinal),
                            "endsWith" => s.EndsWith(a, StringComparison.Ordinal),
                            _ => s.Contains(a, StringComparison.Ordinal),
                        },
                        _ => false,
                    };
                }
            }
            return target;
        }

        private Func<JsonElement, object?> ParsePrimary()
        {
            SkipSpace();
            if (Take("("))
            {
                var inner = ParseOr();
                Expect(")");
                return inner;
            }
            if (Take("has("))
            {
                var path = ReadPath();
                Expect(")");
                return e => Resolve(e, path) is not null;
            }
            if (_pos < text.Length && (text[_pos] == '"' || text[_pos] == '\''))
            {
                var quote = text[_pos++];
                var end = text.IndexOf(quote, _pos);
                if (end < 0)
                {
                    throw new FormatException($"unterminated string in rule '{text}'");
                }
                var s = text[_pos..end];
                _pos = end + 1;
                return _ => s;
            }
            if (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] == '-'))
            {
                var start = _pos++;
                while (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] == '.'))
                {
                    _pos++;
                }
                var number = double.Parse(text[start.._pos], CultureInfo.InvariantCulture);
                return _ => number;
            }
            if (TakeWord("true")) { return _ => true; }
            if (TakeWord("false")) { return _ => false; }
            if (TakeWord("null")) { return _ => null; }
            var p = ReadPath();
            return e => Resolve(e, p) is { } v ? ToValue(v) : null;
        }

        private string[] ReadPath()
        {
            SkipSpace();
            var start = _pos;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] is '_' or '.'))
            {
                // A method call ends the path: event.type.startsWith(...)
                if (text[_pos] == '.' && IsMethodAhead())
                {
                    break;
                }
                _pos++;
            }
            var path = text[start.._pos].Split('.');
            if (path.Length < 1 || path[0] != "event")
            {
                throw new FormatException($"rule '{text}' may only refer to event fields (event.type, event.data.x, ...)");
            }
            return path[1..];
        }

        private bool IsMethodAhead() =>
            new[] { ".startsWith(", ".endsWith(", ".contains(" }.Any(m => string.CompareOrdinal(text, _pos, m, 0, m.Length) == 0);

        private static JsonElement? Resolve(JsonElement e, string[] path)
        {
            var current = e;
            foreach (var segment in path)
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
                {
                    return null;
                }
            }
            return current;
        }

        private static object? ToValue(JsonElement v) => v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => v.GetRawText(),
        };

        private static object Compare(string op, object? a, object? b)
        {
            if (op is "==" or "!=")
            {
                var equal = Equals(a, b);
                return op == "==" ? equal : !equal;
            }
            var c = (a, b) switch
            {
                (double x, double y) => x.CompareTo(y),
                (string x, string y) => string.CompareOrdinal(x, y),
                _ => throw new InvalidOperationException("values do not compare"),
            };
            return op switch { "<" => c < 0, "<=" => c <= 0, ">" => c > 0, _ => c >= 0 };
        }

        private bool Take(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _pos, token, 0, token.Length) == 0)
            {
                // '<' must not eat the first half of '<='; the caller tries longer operators first.
                _pos += token.Length;
                return true;
            }
            return false;
        }

        private bool TakeWord(string word)
        {
            SkipSpace();
            var end = _pos + word.Length;
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) == 0 && (end >= text.Length || !char.IsLetterOrDigit(text[end])))
            {
                _pos = end;
                return true;
            }
            return false;
        }

        private void Expect(string token)
        {
            if (!Take(token))
            {
                throw new FormatException($"expected '{token}' at position {_pos} of rule '{text}'");
            }
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos]))
            {
                _pos++;
            }
        }
    }
}
