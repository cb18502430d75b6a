using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace AgenticFlow.IntegrationTests;

/// <summary>
/// Every operation every service publishes in its OpenAPI document, sent through the gateway with valid
/// credentials in malformed and boundary forms. Nothing is listed by hand: a new service, or a new endpoint, is
/// fuzzed the day it appears in dapr.yaml and its OpenAPI document.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Seed = 20261129;
    private const int MaxVariantsPerOperation = 120;
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(3);

    private PlatformHarness _platform = null!;
    private readonly List<Operation> _operations = [];

    public async Task InitializeAsync()
    {
        // Limits high enough that the fuzz is never refused for its rate, which would hide what it tests.
        _platform = await PlatformHarness.StartAsync(new Dictionary<string, string> { ["Gateway__RequestsPerSecond"] = "1000000", ["Gateway__Burst"] = "1000000" });
        using var sidecar = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_platform.GatewaySidecar.HttpPort}") };
        sidecar.DefaultRequestHeaders.Add("dapr-api-token", _platform.DaprToken);
        foreach (var app in _platform.AppTokens.Keys.Order(StringComparer.Ordinal))
        {
            var document = JsonNode.Parse(await sidecar.GetStringAsync($"/v1.0/invoke/{app}/method/openapi/v1.json"))!;
            _operations.AddRange(Operation.AllIn(app, document));
        }
    }

    public async Task DisposeAsync() => await _platform.DisposeAsync();

    [Fact]
    public async Task EveryOperation_AnswersMalformedAndBoundaryInputWithout5xx_AndRejectedInputChangesNothing()
    {
        Assert.True(_operations.Count >= 10, $"only {_operations.Count} operations were found in the services' OpenAPI documents");
        var random = new Random(Seed);
        var deadline = DateTime.UtcNow + Budget;
        var failures = new List<string>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var reached = new HashSet<Operation>();
        // The gateway's own 404 for a path it does not route says so; a service's 404 (an unknown id) does not.
        void Note(Operation operation, int status, string body)
        {
            if (!(status is 404 or 405 && body.Contains("No route for", StringComparison.Ordinal)))
            {
                reached.Add(operation);
            }
        }

        // First the inputs that no endpoint may accept: afterwards the state store must hold exactly what it held.
        var before = await StateFingerprintAsync();
        foreach (var operation in _operations)
        {
            foreach (var variant in operation.Malformed(random).Take(MaxVariantsPerOperation))
            {
                var (status, body) = await SendAsync(operation, variant);
                Count(counts, operation.App, status);
                Note(operation, status, body);
                if (status is < 400 or >= 500)
                {
                    failures.Add($"{operation} {variant} -> {status} (must be 4xx) {Trim(body)}");
                }
                else if (operation.Path.StartsWith("/v1/", StringComparison.Ordinal) && !body.Contains("\"error\"", StringComparison.Ordinal))
                {
                    failures.Add($"{operation} {variant} -> {status} without OpenAI's error shape: {Trim(body)}");
                }
                if (DateTime.UtcNow > deadline)
                {
                    break;
                }
            }
        }
        var after = await StateFingerprintAsync();

        // Then boundary inputs, some of which are valid: none may break the service.
        foreach (var operation in _operations)
        {
            foreach (var variant in operation.Boundary(random).Take(MaxVariantsPerOperation))
            {
                var (status, body) = await SendAsync(operation, variant);
                Count(counts, operation.App, status);
                Note(operation, status, body);
                if (status >= 500)
                {
                    failures.Add($"{operation} {variant} -> {status} {Trim(body)}");
                }
                if (DateTime.UtcNow > deadline)
                {
                    break;
                }
            }
        }

        Assert.True(DateTime.UtcNow <= deadline, $"the fuzz ran out of its {Budget.TotalMinutes} min budget before sending every variant: coverage would be partial");
        output.WriteLine($"{_operations.Count} operations; requests by app and status class: {string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))}");
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n{string.Join('\n', failures.Take(30))}");
        var unreachable = _operations.Where(o => !reached.Contains(o)).ToList();
        Assert.True(unreachable.Count == 0, $"operations the gateway does not route (every published endpoint should be reachable): {string.Join(", ", unreachable)}");
        Assert.Equal(before, after);
        foreach (var (app, service) in _platform.Services)
        {
            using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{service.Port}") };
            Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/readyz")).StatusCode);
        }
    }

    private static void Count(Dictionary<string, int> counts, string app, int status)
    {
        var key = $"{app}:{status / 100}xx";
        counts[key] = counts.GetValueOrDefault(key) + 1;
    }

    private static string Trim(string body) => body.Length > 300 ? body[..300] : body;

    private async Task<(int Status, string Body)> SendAsync(Operation operation, Variant variant)
    {
        using var request = new HttpRequestMessage(new HttpMethod(variant.Method ?? operation.Method), variant.PathAndQuery);
        request.Headers.Add("X-Api-Key", "dev-admin-key");
        if (variant.Accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", variant.Accept);
        }
        if (variant.Body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(variant.Body));
            request.Content.Headers.TryAddWithoutValidation("Content-Type", variant.ContentType);
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await _platform.Client.SendAsync(request, timeout.Token);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(timeout.Token));
    }

    /// <summary>A hash of every item in the platform's state store.</summary>
    private async Task<string> StateFingerprintAsync()
    {
        await using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_platform.ComponentsPath, "state.db")};Mode=ReadOnly");
        await db.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = "SELECT key, value FROM state ORDER BY key";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var rows = 0;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            hash.AppendData(Encoding.UTF8.GetBytes(reader.GetString(0)));
            hash.AppendData((byte[])reader.GetValue(1));
            rows++;
        }
        return $"{rows} items, sha256 {Convert.ToHexString(hash.GetHashAndReset())}";
    }

    /// <summary>One request to send: path and query already filled in, and a body with its content type.</summary>
    private sealed record Variant(string What, string PathAndQuery, string? Body, string ContentType = "application/json")
    {
        public string? Accept { get; init; }

        /// <summary>Another method than the operation's, to reach the routing's own answers (405).</summary>
        public string? Method { get; init; }

        public override string ToString() => $"[{What}] {PathAndQuery}{(Body is null ? "" : " " + (Body.Length > 120 ? Body[..120] + "…" : Body))}";
    }

    private sealed record Parameter(string Name, string In, JsonNode? Schema, bool Required);

    /// <summary>One operation of an OpenAPI document, and the requests that probe it.</summary>
    private sealed class Operation
    {
        public required string App { get; init; }
        public required string Method { get; init; }
        public required string Path { get; init; }
        public required List<Parameter> Parameters { get; init; }
        public JsonNode? BodySchema { get; init; }
        public required JsonNode Document { get; init; }

        public override string ToString() => $"{App} {Method} {Path}";

        public static IEnumerable<Operation> AllIn(string app, JsonNode document)
        {
            foreach (var (path, item) in document["paths"]!.AsObject())
            {
                foreach (var (method, operation) in item!.AsObject())
                {
                    if (method is "parameters" or "summary" or "description" || operation is null)
                    {
                        continue;
                    }
                    var parameters = (operation["parameters"]?.AsArray() ?? []).Select(p => new Parameter(
                        p!["name"]!.GetValue<string>(), p["in"]!.GetValue<string>(), p["schema"], p["required"]?.GetValue<bool>() ?? false)).ToList();
                    yield return new Operation
                    {
                        App = app,
                        Method = method.ToUpperInvariant(),
                        Path = path,
                        Parameters = parameters,
                        BodySchema = operation["requestBody"]?["content"]?["application/json"]?["schema"],
                        Document = document,
                    };
                }
            }
        }

        /// <summary>Inputs no endpoint may accept: unparseable or wrongly typed bodies, non-JSON content, query values of the wrong type.</summary>
        public IEnumerable<Variant> Malformed(Random random)
        {
            var path = FillPath(_ => "fuzz-1");
            var query = ValidQuery();
            if (BodySchema is not null)
            {
                var url = path + query;
                foreach (var (what, body) in new[]
                {
                    ("empty", ""), ("array", "[]"), ("number", "1"), ("string", "\"text\""), ("boolean", "true"),
                    ("truncated", "{\"a\":"), ("unclosed", "{"), ("garbage", "}{"), ("control character", "{\"a\":\"\u0001\"}"),
                    ("deep arrays", new string('[', 5000) + new string(']', 5000)),
                    ("deep objects", string.Concat(Enumerable.Repeat("{\"a\":", 3000)) + "1" + new string('}', 3000)),
                    ("trailing garbage", Json(Example(BodySchema, required: false)) + " x"),
                })
                {
                    yield return new Variant(what, url, body);
                }
                yield return new Variant("text/plain", url, "hello", "text/plain");
                yield return new Variant("xml", url, "<a/>", "application/xml");
                var example = Example(BodySchema, required: false);
                if (example is JsonObject valid)
                {
                    foreach (var (name, value) in valid.OrderBy(_ => random.Next()).ToList())
                    {
                        var schema = Property(BodySchema, name);
                        if (WrongKind(schema) is { } wrong)
                        {
                            var copy = (JsonObject)valid.DeepClone();
                            copy[name] = wrong;
                            yield return new Variant($"{name} of the wrong type", url, Json(copy));
                        }
                        // One level down: a field of a nested object of the wrong type.
                        if (value is JsonObject nested && schema is not null)
                        {
                            foreach (var (inner, _) in nested.ToList())
                            {
                                if (WrongKind(Property(schema, inner)) is { } wrongInner)
                                {
                                    var copy = (JsonObject)valid.DeepClone();
                                    copy[name]![inner] = wrongInner;
                                    yield return new Variant($"{name}.{inner} of the wrong type", url, Json(copy));
                                }
                            }
                        }
                    }
                }
            }
            foreach (var parameter in Parameters.Where(p => p.In == "query"))
            {
                foreach (var bad in BadScalars(parameter.Schema))
                {
                    yield return new Variant($"query {parameter.Name}={bad}", path + WithQuery(parameter.Name, bad), BodySchema is null ? null : Json(Example(BodySchema, required: false)));
                }
            }
        }

        /// <summary>Edge values, some of them valid: nulls, missing fields, empty and huge strings, extreme numbers, odd path values.</summary>
        public IEnumerable<Variant> Boundary(Random random)
        {
            var query = ValidQuery();
            // First the plain request, as a well-behaved client would send it, then with Accept headers that exclude JSON.
            yield return new Variant("plain", FillPath(_ => "fuzz-1") + query, BodySchema is null ? null : Json(Example(BodySchema, required: false)));
            foreach (var accept in new[] { "text/plain", "application/xml", "text/event-stream" })
            {
                yield return new Variant($"accept {accept}", FillPath(_ => "fuzz-1") + query, BodySchema is null ? null : Json(Example(BodySchema, required: false))) { Accept = accept };
                yield return new Variant($"accept {accept}, wrong method", FillPath(_ => "fuzz-1") + query, null) { Accept = accept, Method = Method == "GET" ? "DELETE" : "GET" };
            }
            foreach (var odd in new[] { "..", "%2e%2e", "%00", "a%2Fb", new string('x', 5000), "%C3%A9", " ", "-", "null" })
            {
                if (Parameters.Any(p => p.In == "path"))
                {
                    yield return new Variant($"path value {odd[..Math.Min(10, odd.Length)]}", FillPath(_ => odd) + query, BodySchema is null ? null : Json(Example(BodySchema, required: false)));
                }
            }
            var path = FillPath(_ => "fuzz-1");
            foreach (var parameter in Parameters.Where(p => p.In == "query"))
            {
                foreach (var edge in new[] { "-1", "0", "2147483648", "99999999999999999999", "", new string('q', 3000), "1e308" })
                {
                    yield return new Variant($"query {parameter.Name} edge", path + WithQuery(parameter.Name, Uri.EscapeDataString(edge)), BodySchema is null ? null : Json(Example(BodySchema, required: false)));
                }
            }
            if (BodySchema is null)
            {
                yield break;
            }
            var url = path + query;
            yield return new Variant("null body", url, "null");
            yield return new Variant("empty object", url, "{}");
            yield return new Variant("valid-looking", url, Json(Example(BodySchema, required: false)));
            if (Example(BodySchema, required: false) is not JsonObject full)
            {
                yield break;
            }
            foreach (var (name, _) in full.OrderBy(_ => random.Next()).ToList())
            {
                var schema = Property(BodySchema, name);
                foreach (var (what, value) in EdgeValues(schema))
                {
                    var copy = (JsonObject)full.DeepClone();
                    copy[name] = value;
                    yield return new Variant($"{name} {what}", url, Json(copy));
                }
                var missing = (JsonObject)full.DeepClone();
                missing.Remove(name);
                yield return new Variant($"{name} missing", url, Json(missing));
                if (full[name] is JsonObject nested && schema is not null)
                {
                    foreach (var (inner, _) in nested.ToList())
                    {
                        foreach (var (what, value) in EdgeValues(Property(schema, inner)))
                        {
                            var copy = (JsonObject)full.DeepClone();
                            copy[name]![inner] = value;
                            yield return new Variant($"{name}.{inner} {what}", url, Json(copy));
                        }
                    }
                }
            }
        }

        private string FillPath(Func<string, string> value) =>
            System.Text.RegularExpressions.Regex.Replace(Path, @"\{([^}]+)\}", m => value(m.Groups[1].Value));

        private string ValidQuery()
        {
            var parts = Parameters.Where(p => p.In == "query" && p.Required).Select(p => $"{p.Name}={Uri.EscapeDataString(Scalar(p.Schema))}").ToList();
            return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
        }

        private string WithQuery(string name, string value)
        {
            var others = Parameters.Where(p => p.In == "query" && p.Required && p.Name != name).Select(p => $"{p.Name}={Uri.EscapeDataString(Scalar(p.Schema))}");
            return "?" + string.Join('&', others.Append($"{name}={value}"));
        }

        /// <summary>Follows <c>$ref</c>s, and a nullable wrapper (<c>oneOf: [{type: null}, X]</c>) to X.</summary>
        private JsonNode? Resolve(JsonNode? schema)
        {
            for (var hops = 0; hops < 10; hops++)
            {
                if (schema?["$ref"] is { } reference)
                {
                    schema = Document["components"]?["schemas"]?[reference.GetValue<string>().Split('/').Last()];
                }
                else if ((schema?["oneOf"] ?? schema?["anyOf"]) is JsonArray alternatives
                    && alternatives.FirstOrDefault(a => a?["type"]?.ToString() != "null") is { } real)
                {
                    schema = real;
                }
                else
                {
                    break;
                }
            }
            return schema;
        }

        private JsonNode? Property(JsonNode schema, string name) => Resolve(schema)?["properties"]?[name];

        /// <summary>The JSON kinds a schema allows ("string", "integer", …); empty for "anything".</summary>
        private HashSet<string> Kinds(JsonNode? schema)
        {
            schema = Resolve(schema);
            var kinds = new HashSet<string>(StringComparer.Ordinal);
            switch (schema?["type"])
            {
                case JsonValue single:
                    kinds.Add(single.GetValue<string>());
                    break;
                case JsonArray many:
                    kinds.UnionWith(many.Select(k => k!.GetValue<string>()));
                    break;
            }
            if (kinds.Count == 0 && schema?["properties"] is not null)
            {
                kinds.Add("object");
            }
            foreach (var alternative in (schema?["oneOf"] ?? schema?["anyOf"])?.AsArray() ?? [])
            {
                kinds.UnionWith(Kinds(alternative));
            }
            return kinds;
        }

        /// <summary>A value the schema accepts in shape, with plausible contents.</summary>
        private JsonNode? Example(JsonNode? schema, bool required, int depth = 0)
        {
            schema = Resolve(schema);
            if (schema?["enum"] is JsonArray options && options.Count > 0)
            {
                return options[0]?.DeepClone();
            }
            var kinds = Kinds(schema);
            if (depth > 6 || kinds.Count == 0)
            {
                return JsonValue.Create("x");
            }
            if (kinds.Contains("object"))
            {
                var result = new JsonObject();
                var requiredNames = (schema?["required"]?.AsArray() ?? []).Select(r => r!.GetValue<string>()).ToHashSet();
                foreach (var (name, property) in schema?["properties"]?.AsObject() ?? [])
                {
                    if (!required || requiredNames.Contains(name))
                    {
                        result[name] = Example(property, required, depth + 1);
                    }
                }
                return result;
            }
            if (kinds.Contains("array"))
            {
                return new JsonArray(Example(schema?["items"], required, depth + 1));
            }
            if (kinds.Contains("integer") || kinds.Contains("number"))
            {
                return JsonValue.Create(1);
            }
            if (kinds.Contains("boolean"))
            {
                return JsonValue.Create(true);
            }
            return JsonValue.Create(Scalar(schema));
        }

        private string Scalar(JsonNode? schema)
        {
            schema = Resolve(schema);
            var kinds = Kinds(schema);
            if (schema?["enum"] is JsonArray options && options.Count > 0)
            {
                return options[0]!.ToString();
            }
            if (kinds.Contains("integer") || kinds.Contains("number"))
            {
                return "1";
            }
            if (kinds.Contains("boolean"))
            {
                return "true";
            }
            return schema?["format"]?.GetValue<string>() switch
            {
                "date-time" => "2026-01-01T00:00:00Z",
                "uuid" => "00000000-0000-0000-0000-000000000001",
                _ => "fuzz-1",
            };
        }

        /// <summary>A value of a JSON kind the schema does not allow; null when it allows anything.</summary>
        private JsonNode? WrongKind(JsonNode? schema)
        {
            var kinds = Kinds(schema);
            if (kinds.Count == 0)
            {
                return null;
            }
            if (!kinds.Contains("object"))
            {
                return new JsonObject { ["unexpected"] = 1 };
            }
            if (!kinds.Contains("array"))
            {
                return new JsonArray(1, 2);
            }
            return null;
        }

        private static IEnumerable<string> BadScalars(JsonNode? schema)
        {
            var type = schema?["type"]?.ToJsonString() ?? "";
            var format = schema?["format"]?.GetValue<string>();
            if (type.Contains("integer") || type.Contains("number"))
            {
                yield return "abc";
                yield return "1.5.5";
            }
            if (type.Contains("boolean"))
            {
                yield return "maybe";
            }
            if (format == "date-time")
            {
                yield return "yesterday";
            }
        }

        private IEnumerable<(string What, JsonNode? Value)> EdgeValues(JsonNode? schema)
        {
            yield return ("null", null);
            var kinds = Kinds(schema);
            if (kinds.Count == 0)
            {
                // A field that takes any JSON: the shapes code reading it must expect.
                foreach (var shape in new[] { "1", "true", "{}", "[1]", "[[]]", "[{\"type\":1}]", "[{\"type\":\"text\"}]", "[{\"type\":\"text\",\"text\":1}]", "{\"type\":1}" })
                {
                    yield return ($"shaped {shape}", JsonNode.Parse(shape));
                }
            }
            if (kinds.Count == 0 || kinds.Contains("string"))
            {
                yield return ("empty string", JsonValue.Create(""));
                yield return ("huge string", JsonValue.Create(new string('h', 200_000)));
                yield return ("unicode", JsonValue.Create("\u202e\ud83d\ude00\u0000"));
            }
            if (kinds.Contains("integer") || kinds.Contains("number"))
            {
                yield return ("negative", JsonValue.Create(-1));
                yield return ("huge number", JsonNode.Parse("1e308"));
                yield return ("int overflow", JsonNode.Parse("2147483648"));
            }
            if (kinds.Contains("array"))
            {
                yield return ("empty array", new JsonArray());
                yield return ("array of nulls", new JsonArray(null, null));
                yield return ("long array", new JsonArray(Enumerable.Range(0, 2000).Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()));
            }
            if (kinds.Contains("object"))
            {
                yield return ("empty object", new JsonObject());
            }
        }

        private static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";
    }
}
