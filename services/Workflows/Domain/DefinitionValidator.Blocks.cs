using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticFlow.Workflows.Domain;

/// <summary>The checks of parallel blocks, triggers and retry policies.</summary>
public static partial class DefinitionValidator
{
    private sealed partial class Checker
    {
        private void Parallel(JsonObject step, string pointer, StepPlace? place, IReadOnlyList<string> inner, bool forEach, bool compensation)
        {
            var hasBranches = step["branches"] is not null;
            var hasForEach = step["forEach"] is not null;
            var fixedCount = -1;
            if (hasBranches == hasForEach)
            {
                Add(pointer, "a parallel step has either branches (fixed) or forEach with steps (over a list)");
            }
            if (hasBranches)
            {
                if (step["branches"] is not JsonArray branches || branches.Count == 0)
                {
                    Add($"{pointer}/branches", "branches is a non-empty array of step arrays");
                }
                else
                {
                    fixedCount = branches.Count;
                    for (var b = 0; b < branches.Count; b++)
                    {
                        if (branches[b] is not JsonArray branch || branch.Count == 0)
                        {
                            Add($"{pointer}/branches/{b}", "a branch is a non-empty array of steps");
                            continue;
                        }
                        Sequence(branch, $"{pointer}/branches/{b}", inner, forEach);
                    }
                }
            }
            if (hasForEach)
            {
                Expression(step, "forEach", pointer, place, forEach, compensation, required: true);
                if (step["steps"] is not JsonArray each || each.Count == 0)
                {
                    Add($"{pointer}/steps", "a forEach block needs steps: a non-empty array run for each item");
                }
                else
                {
                    Sequence(each, $"{pointer}/steps", inner, forEach: true);
                }
            }
            else if (step["steps"] is not null && hasBranches)
            {
                Add($"{pointer}/steps", "steps belongs to forEach blocks; fixed blocks list branches");
            }
            var join = Text(step, "join", pointer, required: false) ?? "all";
            if (join is not ("all" or "any" or "n-of-m"))
            {
                Add($"{pointer}/join", "join is all, any or n-of-m");
            }
            if (join == "n-of-m")
            {
                if (step["n"] is not JsonValue n || n.GetValueKind() != JsonValueKind.Number || !n.TryGetValue<int>(out var count) || count < 1)
                {
                    Add($"{pointer}/n", "n-of-m needs n: a positive integer");
                }
                else if (fixedCount > 0 && count > fixedCount)
                {
                    Add($"{pointer}/n", $"n ({count}) is more than the {fixedCount} branches");
                }
            }
            else if (step["n"] is not null)
            {
                Add($"{pointer}/n", "n belongs to join n-of-m");
            }
        }

        private void Triggers(JsonNode triggers)
        {
            if (triggers is not JsonArray list)
            {
                Add("/triggers", "triggers is an array");
                return;
            }
            for (var i = 0; i < list.Count; i++)
            {
                var pointer = $"/triggers/{i}";
                if (list[i] is not JsonObject trigger)
                {
                    Add(pointer, "a trigger is a JSON object");
                    continue;
                }
                switch (Text(trigger, "kind", pointer, required: true))
                {
                    case TriggerKinds.Manual or null:
                        break;
                    case TriggerKinds.Event:
                        if (Text(trigger, "topic", pointer, required: true) is { } topic && !IsName(topic))
                        {
                            Add($"{pointer}/topic", "a topic holds letters, digits, '.', '_' and '-' (at most 128)");
                        }
                        if (Text(trigger, "pubsub", pointer, required: false) is { } pubsub && !IsName(pubsub))
                        {
                            Add($"{pointer}/pubsub", "pubsub names a pub/sub component");
                        }
                        Expression(trigger, "filter", pointer, null, false, false);
                        TemplateAny(trigger, "input", pointer, null, false, false);
                        break;
                    case TriggerKinds.Schedule:
                        if (Text(trigger, "cron", pointer, required: true) is { } cron && Schedules.Parse(cron) is null)
                        {
                            Add($"{pointer}/cron", $"'{cron}' is not a cron expression (5 fields, or 6 with seconds first)");
                        }
                        TemplateAny(trigger, "input", pointer, null, false, false);
                        break;
                    case var other:
                        Add($"{pointer}/kind", $"unknown trigger kind '{other}'; one of manual, event, schedule");
                        break;
                }
            }
        }

        private void Retry(JsonNode retry, string pointer)
        {
            if (retry is not JsonObject obj)
            {
                Add(pointer, "retry is an object: {maxAttempts, backoffSeconds, backoffCoefficient, maxBackoffSeconds}");
                return;
            }
            if (obj["maxAttempts"] is not JsonValue attempts || attempts.GetValueKind() != JsonValueKind.Number || !attempts.TryGetValue<int>(out var n) || n is < 1 or > 100)
            {
                Add($"{pointer}/maxAttempts", "maxAttempts is an integer from 1 to 100");
            }
            Seconds(obj, "backoffSeconds", pointer, required: false, allowZero: true);
            Seconds(obj, "maxBackoffSeconds", pointer, required: false, allowZero: true);
            if (obj["backoffCoefficient"] is { } c && (c.GetValueKind() != JsonValueKind.Number || c.GetValue<double>() is < 1 or > 10))
            {
                Add($"{pointer}/backoffCoefficient", "backoffCoefficient is a number from 1 to 10");
            }
        }
    }
}
