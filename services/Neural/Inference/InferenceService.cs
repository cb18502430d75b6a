using System.Text.Json;
using AgenticFlow.Neural.Domain;

namespace AgenticFlow.Neural.Inference;

public enum InferenceStatus { Ok, UnknownModel, UnknownVersion, NotDeployed, BadInput }

public sealed record InferenceOutcome(InferenceStatus Status, int? Version, IReadOnlyList<Prediction>? Predictions, Dictionary<string, string[]>? Errors = null);

/// <summary>
/// Answers an inference: picks the version (the one asked for, else the deployment's split), checks every row
/// against that version's inputs, and predicts. The version is chosen once per request from one snapshot of the
/// deployment, so a deploy that lands meanwhile never splits a request: it finishes on the version it started with.
/// </summary>
public sealed class InferenceService(DeploymentCache deployments, LoadedModels models)
{
    public async Task<InferenceOutcome> InferAsync(string modelId, int? requested, IReadOnlyList<JsonElement> rows, CancellationToken ct)
    {
        var model = await deployments.GetAsync(modelId, ct);
        if (model is null)
        {
            return new(InferenceStatus.UnknownModel, null, null);
        }
        ModelVersion? version;
        if (requested is { } number)
        {
            // A version registered since this replica read the model: read it again once.
            version = model.Find(number) ?? (await deployments.RefreshAsync(modelId, ct))?.Find(number);
            if (version is null)
            {
                return new(InferenceStatus.UnknownVersion, number, null);
            }
        }
        else if (model.Deployment.Choose(Random.Shared.NextDouble() * 100) is { } chosen && model.Find(chosen) is { } found)
        {
            version = found;
        }
        else
        {
            return new(InferenceStatus.NotDeployed, null, null);
        }
        var loaded = await models.GetAsync(modelId, version, ct);
        var inputs = new List<object>(rows.Count);
        var errors = new Dictionary<string, string[]>();
        for (var i = 0; i < rows.Count; i++)
        {
            if (loaded.Read(rows[i], out var problem) is { } input)
            {
                inputs.Add(input);
            }
            else
            {
                errors[$"inputs[{i}]"] = [problem!];
            }
        }
        if (errors.Count > 0)
        {
            return new(InferenceStatus.BadInput, version.Version, null, errors);
        }
        return new(InferenceStatus.Ok, version.Version, await loaded.PredictAsync(inputs, ct));
    }

    /// <summary>Loads one version (artifact read and checked against its hash); throws when it cannot be served.</summary>
    public async Task LoadAsync(string modelId, ModelVersion version, CancellationToken ct) => await models.GetAsync(modelId, version, ct);

    /// <summary>Loads the versions a deployment serves, so their first calls find them warm.</summary>
    public async Task WarmAsync(ModelRecord model, CancellationToken ct)
    {
        models.Retain(model.Id, new[] { model.Deployment.Active, model.Deployment.Canary }.OfType<int>().ToHashSet(), TimeSpan.FromMinutes(1));
        foreach (var number in new[] { model.Deployment.Active, model.Deployment.Canary }.OfType<int>())
        {
            if (model.Find(number) is { } version)
            {
                await models.GetAsync(model.Id, version, ct);
            }
        }
    }
}
