using System.Text.RegularExpressions;
using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Search;

namespace AgenticFlow.Memory.Apis;

/// <summary>Checks requests field by field; an empty result means valid, and nothing is stored unless it is.</summary>
public static partial class Validation
{
    public const int MaxTags = 32, MaxGraphItems = 64, MaxTopK = 100, MaxGraphDepth = 3, MaxTextChars = 2_000;
    public const int MaxTtlSeconds = 10 * 365 * 86_400;

    /// <summary>First segments under /api/v1/memory that are routes of their own, so never agent ids.</summary>
    public static readonly IReadOnlySet<string> Reserved = new HashSet<string>(["query", "knowledge-graph", "cache", "index"], StringComparer.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NameRegex();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,255}$")]
    private static partial Regex CacheKeyRegex();

    public static bool IsAgentId(string? value) => value is not null && NameRegex().IsMatch(value) && !Reserved.Contains(value);
    public static bool IsName(string? value) => value is not null && NameRegex().IsMatch(value);
    public static bool IsCacheKey(string? value) => value is not null && CacheKeyRegex().IsMatch(value);

    private static bool TryEnum<T>(string? value, out T parsed) where T : struct, Enum =>
        Enum.TryParse(value, ignoreCase: true, out parsed) && !int.TryParse(value, out _) && Enum.IsDefined(parsed);

    public static Dictionary<string, string[]> Check(string agentId, StoreMemoryRequest r, int maxContent, string? principal, out StoreCommand? command)
    {
        var errors = new Dictionary<string, string[]>();
        command = null;
        if (!IsAgentId(agentId)) { errors["agentId"] = ["agentId must be 1-128 letters, digits, '.', '_' or '-' (not query, knowledge-graph, cache or index)"]; }
        if (!TryEnum<MemoryKind>(r.Kind, out var kind)) { errors["kind"] = ["kind must be experience, fact or note"]; }
        if (string.IsNullOrWhiteSpace(r.Content)) { errors["content"] = ["content is required"]; }
        else if (r.Content.Length > maxContent) { errors["content"] = [$"content may hold at most {maxContent} characters"]; }
        if (r.Task is { Length: > MaxTextChars }) { errors["task"] = [$"task may hold at most {MaxTextChars} characters"]; }
        if (r.Action is { Length: > MaxTextChars }) { errors["action"] = [$"action may hold at most {MaxTextChars} characters"]; }
        Outcome? outcome = null;
        if (r.Outcome is not null)
        {
            if (TryEnum<Outcome>(r.Outcome, out var o)) { outcome = o; }
            else { errors["outcome"] = ["outcome must be success or failure"]; }
        }
        if (r.Score is { } score && (!double.IsFinite(score) || Math.Abs(score) > 1e9)) { errors["score"] = ["score must be a finite number"]; }
        if (r.Importance is { } importance && (!double.IsFinite(importance) || importance is < 0 or > 1)) { errors["importance"] = ["importance must be between 0 and 1"]; }
        var tags = CheckTags(r.Tags, "tags", errors);
        if (r.TtlSeconds is < 1 or > MaxTtlSeconds) { errors["ttlSeconds"] = [$"ttlSeconds must be between 1 and {MaxTtlSeconds}"]; }
        if (r.TeamId is not null && !IsName(r.TeamId)) { errors["teamId"] = ["teamId must be 1-128 letters, digits, '.', '_' or '-'"]; }
        var entities = new List<EntityRef>();
        if (r.Entities is { Count: > MaxGraphItems }) { errors["entities"] = [$"at most {MaxGraphItems} entities"]; }
        foreach (var (e, i) in (r.Entities ?? []).Select((e, i) => (e, i)))
        {
            if (e is null || !IsEntityName(e.Name)) { errors[$"entities[{i}].name"] = ["name is required (1-200 characters)"]; }
            else if (e.Type is { Length: > 100 }) { errors[$"entities[{i}].type"] = ["type may hold at most 100 characters"]; }
            else { entities.Add(new EntityRef(e.Name!.Trim(), e.Type)); }
        }
        var relations = new List<RelationAssertion>();
        if (r.Relations is { Count: > MaxGraphItems }) { errors["relations"] = [$"at most {MaxGraphItems} relations"]; }
        foreach (var (x, i) in (r.Relations ?? []).Select((x, i) => (x, i)))
        {
            var at = $"relations[{i}]";
            if (x is null) { errors[at] = ["a relation is {subject, predicate, object}"]; continue; }
            var ok = CheckRelation(x.Subject, x.Predicate, x.Object, at, errors);
            if (ok) { relations.Add(new RelationAssertion(x.Subject!.Trim(), x.Predicate!.Trim(), x.Object!.Trim(), x.ValidFrom, x.SingleValued)); }
        }
        if (errors.Count == 0)
        {
            command = new StoreCommand(agentId, r.TeamId, kind, r.Content!, r.Task, r.Action, outcome, r.Score, r.Importance ?? 0.5,
                tags, r.TtlSeconds, entities, relations, principal, r.Extract ?? true);
        }
        return errors;
    }

    public static bool IsEntityName(string? name) => !string.IsNullOrWhiteSpace(name) && name.Length <= 200 && !name.Any(char.IsControl);

    public static bool CheckRelation(string? subject, string? predicate, string? obj, string at, Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        if (!IsEntityName(subject)) { errors[$"{at}.subject"] = ["subject is required (1-200 characters)"]; }
        if (string.IsNullOrWhiteSpace(predicate) || predicate.Length > 100 || predicate.Any(char.IsControl)) { errors[$"{at}.predicate"] = ["predicate is required (1-100 characters)"]; }
        if (!IsEntityName(obj)) { errors[$"{at}.object"] = ["object is required (1-200 characters)"]; }
        return errors.Count == before;
    }

    public static List<string> CheckTags(IReadOnlyList<string>? tags, string field, Dictionary<string, string[]> errors)
    {
        if (tags is null) { return []; }
        if (tags.Count > MaxTags) { errors[field] = [$"at most {MaxTags} tags"]; return []; }
        if (tags.Any(t => t is null || t.Length is 0 or > 64 || t.Any(char.IsControl))) { errors[field] = ["each tag is 1-64 characters without control characters"]; return []; }
        return tags.Select(t => t.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    public static MemoryFilter? Filter(IReadOnlyList<string>? kinds, string? kind, IReadOnlyList<string>? tags, DateTimeOffset? from, DateTimeOffset? to, string? outcome, Dictionary<string, string[]> errors, string prefix)
    {
        var set = new HashSet<MemoryKind>();
        foreach (var k in (kinds ?? []).Append(kind).OfType<string>())
        {
            if (TryEnum<MemoryKind>(k, out var parsed)) { set.Add(parsed); }
            else { errors[prefix + "kind"] = ["kind must be experience, fact or note"]; }
        }
        Outcome? o = null;
        if (outcome is not null)
        {
            if (TryEnum<Outcome>(outcome, out var parsed)) { o = parsed; }
            else { errors[prefix + "outcome"] = ["outcome must be success or failure"]; }
        }
        if (from is not null && to is not null && from > to) { errors[prefix + "from"] = ["from must not be after to"]; }
        var checkedTags = CheckTags(tags, prefix + "tags", errors);
        return new MemoryFilter { Kinds = set.Count > 0 ? set : null, Tags = checkedTags, From = from, To = to, Outcome = o };
    }

    public static bool TryMode(string? mode, out QueryMode parsed)
    {
        parsed = QueryMode.Hybrid;
        return mode is null || TryEnum(mode, out parsed);
    }
}
