namespace AgenticFlow.Coordination.Domain;

/// <summary>
/// The tasks one change of a team touches: read on demand (from the state store, or a dictionary in tests), and
/// remembered so the change can write exactly the ones it modified, together with the board.
/// </summary>
public sealed class TaskLedger(Func<string, CancellationToken, ValueTask<TaskRecord?>> load)
{
    private readonly Dictionary<string, TaskRecord> _loaded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskRecord> _changed = new(StringComparer.Ordinal);

    public IReadOnlyCollection<TaskRecord> Changed => _changed.Values;

    /// <summary>Tasks assigned during this change: to be sent to their agents once the change is stored.</summary>
    public List<TaskRecord> ToDispatch { get; } = [];

    public async ValueTask<TaskRecord?> GetAsync(string taskId, CancellationToken ct)
    {
        if (_loaded.TryGetValue(taskId, out var task))
        {
            return task;
        }
        task = await load(taskId, ct);
        if (task is not null)
        {
            _loaded[taskId] = task;
        }
        return task;
    }

    public void Add(TaskRecord task)
    {
        _loaded[task.Id] = task;
        _changed[task.Id] = task;
    }

    public void Touch(TaskRecord task) => _changed[task.Id] = task;
}
