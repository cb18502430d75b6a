using System.Text.RegularExpressions;
using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Apis;

/// <summary>Checks requests field by field; an empty result means valid.</summary>
public static partial class Validation
{
    public const int MaxRequirements = 50, MaxCapabilities = 32, MaxOptions = 20, MaxTextLength = 10_000, MaxRoundSeconds = 86_400;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    private static partial Regex NameRegex();

    /// <summary>Ids and capability names: 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit.</summary>
    public static bool IsName(string? value) => value is not null && NameRegex().IsMatch(value);

    private const string NameRule = "1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";

    public static Dictionary<string, string[]> Check(CreateTeamRequest request, int maxMembers, out NewTeam? team)
    {
        var errors = new Dictionary<string, string[]>();
        team = null;
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200 || request.Name.Any(char.IsControl))
        {
            errors["name"] = ["name is required: 1-200 characters, no control characters"];
        }
        var members = request.Members ?? [];
        if (members.Count > maxMembers || members.Any(m => !IsName(m)))
        {
            errors["members"] = [$"members must be at most {maxMembers} agent ids, each {NameRule}"];
        }
        else if (members.Distinct(StringComparer.Ordinal).Count() != members.Count)
        {
            errors["members"] = ["members must not repeat an agent"];
        }
        var requirements = request.Requirements ?? [];
        if (requirements.Count > MaxRequirements)
        {
            errors["requirements"] = [$"at most {MaxRequirements} requirements"];
        }
        for (var i = 0; i < requirements.Count && i < MaxRequirements; i++)
        {
            var r = requirements[i];
            if (r is null || !IsName(r.Capability))
            {
                errors[$"requirements[{i}].capability"] = [$"capability is required: {NameRule}"];
            }
            if (r?.Count is not { } count || count < 1 || count > maxMembers)
            {
                errors[$"requirements[{i}].count"] = [$"count must be between 1 and {maxMembers}"];
            }
            if (r?.MinProficiency is < 0 or > 1 || r?.MinProficiency is double.NaN)
            {
                errors[$"requirements[{i}].minProficiency"] = ["minProficiency must be between 0 and 1"];
            }
        }
        if (members.Count == 0 && requirements.Count == 0)
        {
            errors["members"] = ["name the members, give requirements, or both"];
        }
        else if (members.Count + requirements.Sum(r => (long)(r?.Count ?? 0)) > maxMembers)
        {
            errors["requirements"] = [$"a team has at most {maxMembers} members"];
        }
        var strategy = request.Strategy ?? Strategies.LeastLoaded;
        if (!Strategies.Names.Contains(strategy))
        {
            errors["strategy"] = [$"strategy must be one of {string.Join(", ", Strategies.Names)}"];
        }
        if (errors.Count == 0)
        {
            team = new NewTeam(request.Name!.Trim(), members, requirements.Select(r => new Requirement(r.Capability!, r.Count!.Value, r.MinProficiency ?? 0)).ToList(), strategy);
        }
        return errors;
    }

    public static Dictionary<string, string[]> Check(ChangeMembersRequest request, int maxMembers)
    {
        var errors = new Dictionary<string, string[]>();
        var add = request.Add ?? [];
        var remove = request.Remove ?? [];
        if (add.Count > maxMembers || add.Any(a => !IsName(a)))
        {
            errors["add"] = [$"add must be at most {maxMembers} agent ids, each {NameRule}"];
        }
        if (remove.Count > maxMembers || remove.Any(a => !IsName(a)))
        {
            errors["remove"] = [$"remove must be at most {maxMembers} agent ids, each {NameRule}"];
        }
        if (add.Count == 0 && remove.Count == 0)
        {
            errors["add"] = ["give agents to add, to remove, or both"];
        }
        else if (add.Intersect(remove, StringComparer.Ordinal).Any())
        {
            errors["remove"] = ["an agent cannot be both added and removed"];
        }
        return errors;
    }

    public static Dictionary<string, string[]> Check(SubmitTaskRequest request, int maxInputBytes, DateTimeOffset now, out NewTask? task)
    {
        var errors = new Dictionary<string, string[]>();
        task = null;
        if (string.IsNullOrWhiteSpace(request.Description) || request.Description.Length > MaxTextLength)
        {
            errors["description"] = [$"description is required: 1-{MaxTextLength} characters"];
        }
        if (request.Input is { } input && System.Text.Encoding.UTF8.GetByteCount(input.GetRawText()) > maxInputBytes)
        {
            errors["input"] = [$"input must be at most {maxInputBytes} bytes of JSON"];
        }
        var capabilities = request.RequiredCapabilities ?? [];
        if (capabilities.Count > MaxCapabilities || capabilities.Any(c => !IsName(c)))
        {
            errors["requiredCapabilities"] = [$"at most {MaxCapabilities} capability names, each {NameRule}"];
        }
        if (!TryParsePriority(request.Priority, out var priority))
        {
            errors["priority"] = ["priority must be one of critical, high, normal, low"];
        }
        if (request.Deadline is { } deadline && (deadline <= now || deadline > now.AddDays(30)))
        {
            errors["deadline"] = ["deadline must be an ISO-8601 instant in the future, at most 30 days away"];
        }
        if (request.AffinityKey is { Length: 0 or > 256 })
        {
            errors["affinityKey"] = ["affinityKey must be 1-256 characters"];
        }
        if (errors.Count == 0)
        {
            task = new NewTask(request.Description!, request.Input is { ValueKind: not System.Text.Json.JsonValueKind.Undefined } given ? given.Clone() : null,
                capabilities.Distinct(StringComparer.Ordinal).ToList(), priority, request.Deadline, request.AffinityKey);
        }
        return errors;
    }

    public static Dictionary<string, string[]> Check(StartRoundRequest request, out NewRound? round)
    {
        var errors = new Dictionary<string, string[]>();
        round = null;
        if (!IsName(request.TeamId))
        {
            errors["teamId"] = [$"teamId is required: {NameRule}"];
        }
        if (string.IsNullOrWhiteSpace(request.Proposal) || request.Proposal.Length > MaxTextLength)
        {
            errors["proposal"] = [$"proposal is required: 1-{MaxTextLength} characters"];
        }
        var options = request.Options ?? ["approve", "reject"];
        if (options.Count is < 2 or > MaxOptions || options.Any(o => string.IsNullOrWhiteSpace(o) || o.Length > 200))
        {
            errors["options"] = [$"options must be 2-{MaxOptions} choices of 1-200 characters"];
        }
        else if (options.Distinct(StringComparer.Ordinal).Count() != options.Count)
        {
            errors["options"] = ["options must be distinct"];
        }
        if (request.Mode is null || !ConsensusModes.Names.Contains(request.Mode))
        {
            errors["mode"] = [$"mode is required: one of {string.Join(", ", ConsensusModes.Names)}"];
        }
        if (request.Quorum is { } quorum && (request.Mode != ConsensusModes.Quorum || quorum < 1 || quorum > 10_000))
        {
            errors["quorum"] = ["quorum is a number of votes (1-10000), for mode quorum only"];
        }
        if (request.DeadlineSeconds is not { } seconds || seconds < 1 || seconds > MaxRoundSeconds)
        {
            errors["deadlineSeconds"] = [$"deadlineSeconds is required: 1-{MaxRoundSeconds}"];
        }
        var weights = request.Weights ?? [];
        if (weights.Count > 0 && request.Mode != ConsensusModes.Weighted)
        {
            errors["weights"] = ["weights are for mode weighted only"];
        }
        else if (weights.Count > 10_000 || weights.Any(w => !IsName(w.Key) || !double.IsFinite(w.Value) || w.Value <= 0 || w.Value > 1_000_000))
        {
            errors["weights"] = [$"weights map agent ids ({NameRule}) to numbers above 0 and at most 1000000"];
        }
        if (errors.Count == 0)
        {
            round = new NewRound(request.TeamId!, request.Proposal!, options, request.Mode!, request.Quorum, request.DeadlineSeconds!.Value, weights);
        }
        return errors;
    }

    public static Dictionary<string, string[]> Check(VoteRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (!IsName(request.AgentId))
        {
            errors["agentId"] = [$"agentId is required: {NameRule}"];
        }
        if (string.IsNullOrEmpty(request.Choice) || request.Choice.Length > 200)
        {
            errors["choice"] = ["choice is required: one of the round's options"];
        }
        if (request.Reason is { Length: > MaxTextLength })
        {
            errors["reason"] = [$"reason must be at most {MaxTextLength} characters"];
        }
        if (request.Weight is { } weight && (!double.IsFinite(weight) || weight <= 0 || weight > 1_000_000))
        {
            errors["weight"] = ["weight must be above 0 and at most 1000000"];
        }
        return errors;
    }

    public static Dictionary<string, string[]> Check(InternalVoteRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (!IsName(request.AgentId))
        {
            errors["agentId"] = [$"agentId is required: {NameRule}"];
        }
        if (request.Choice is { Length: > 200 })
        {
            errors["choice"] = ["choice must be at most 200 characters"];
        }
        if (request.Reason is { Length: > MaxTextLength })
        {
            errors["reason"] = [$"reason must be at most {MaxTextLength} characters"];
        }
        return errors;
    }

    public static Dictionary<string, string[]> Check(TaskResultRequest request, int maxInputBytes)
    {
        var errors = new Dictionary<string, string[]>();
        if (!IsName(request.AgentId))
        {
            errors["agentId"] = [$"agentId is required: {NameRule}"];
        }
        if (request.Status is not (TaskState.Completed or TaskState.Failed))
        {
            errors["status"] = ["status must be completed or failed"];
        }
        if (request.Output is { } output && System.Text.Encoding.UTF8.GetByteCount(output.GetRawText()) > maxInputBytes)
        {
            errors["output"] = [$"output must be at most {maxInputBytes} bytes of JSON"];
        }
        if (request.Error is { Length: > MaxTextLength })
        {
            errors["error"] = [$"error must be at most {MaxTextLength} characters"];
        }
        return errors;
    }

    public static bool TryParsePriority(string? text, out TaskPriority priority)
    {
        switch (text)
        {
            case null or "normal": priority = TaskPriority.Normal; return true;
            case "critical": priority = TaskPriority.Critical; return true;
            case "high": priority = TaskPriority.High; return true;
            case "low": priority = TaskPriority.Low; return true;
            default: priority = TaskPriority.Normal; return false;
        }
    }
}
