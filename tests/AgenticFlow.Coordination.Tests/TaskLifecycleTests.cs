using AgenticFlow.Coordination.Domain;

namespace AgenticFlow.Coordination.Tests;

public sealed class TaskLifecycleTests
{
    [Fact]
    public async Task Task_GoesPendingAssignedRunningCompleted_AndCompletesOnce()
    {
        var board = new Board(Strategies.LeastLoaded, Board.Agents(2));
        var (task, sent) = await board.SubmitAsync();
        Assert.Equal(TaskState.Assigned, task.State);
        Assert.Equal([task], sent);
        var ledger = board.Ledger();
        Assert.True(await board.Scheduler.MarkRunningAsync(board.Team, ledger, task.Id, task.AgentId!, board.Now, CancellationToken.None));
        Assert.Equal(TaskState.Running, task.State);

        Assert.Equal(ResultOutcome.Applied, await board.CompleteAsync(task.Id, task.AgentId!));
        Assert.Equal(ResultOutcome.Duplicate, await board.CompleteAsync(task.Id, task.AgentId!));
        Assert.Equal(ResultOutcome.NotAssignee, await board.CompleteAsync(task.Id, "agent-02"));
        Assert.Equal(1, board.Team.Completed);
        Assert.Equal([TaskState.Pending, TaskState.Assigned, TaskState.Running, TaskState.Completed], task.History.Select(h => h.State));
        Assert.Equal(0, board.Load(task.AgentId!));
    }

    [Fact]
    public async Task AgentFailure_RetriesOnAnotherAgent_ThenFailsWhenAttemptsRunOut()
    {
        var board = new Board(Strategies.RoundRobin, Board.Agents(2));
        var (task, _) = await board.SubmitAsync(maxAttempts: 2);
        var first = task.AgentId!;
        Assert.Equal(ResultOutcome.Retrying, await board.CompleteAsync(task.Id, first, completed: false));
        var second = board.Tasks[task.Id].AgentId!;
        Assert.NotEqual(first, second);
        Assert.Equal(TaskState.Assigned, task.State);
        Assert.Equal(ResultOutcome.Applied, await board.CompleteAsync(task.Id, second, completed: false));
        Assert.Equal(TaskState.Failed, task.State);
        Assert.Equal(1, board.Team.Failed);
        Assert.Equal(ResultOutcome.Duplicate, await board.CompleteAsync(task.Id, second, completed: false));
    }

    [Fact]
    public async Task UnhealthyAgent_ItsTaskIsReassigned_TheLateResultIsRefused_AndTheTaskCompletesExactlyOnce()
    {
        var board = new Board(Strategies.LeastLoaded, Board.Agents(2));
        var (task, _) = await board.SubmitAsync();
        var lost = task.AgentId!;
        var resent = await board.ReleaseAgentAsync(lost, remove: false);
        var other = Assert.Single(resent).AgentId!;
        Assert.NotEqual(lost, other);
        Assert.False(board.Team.Member(lost)!.Healthy);

        Assert.Equal(ResultOutcome.NotAssignee, await board.CompleteAsync(task.Id, lost));
        Assert.Equal(ResultOutcome.Applied, await board.CompleteAsync(task.Id, other));
        Assert.Equal(ResultOutcome.Duplicate, await board.CompleteAsync(task.Id, other));
        Assert.Equal(1, board.Team.Completed);
        Assert.Equal(2, task.Attempts);
    }

    [Fact]
    public async Task LeavingAgent_IsRemoved_AndItsTasksGoToTheOthers()
    {
        var board = new Board(Strategies.RoundRobin, Board.Agents(3));
        for (var i = 0; i < 9; i++)
        {
            await board.SubmitAsync();
        }
        var resent = await board.ReleaseAgentAsync("agent-02", remove: true);
        Assert.Equal(3, resent.Count);
        Assert.Null(board.Team.Member("agent-02"));
        Assert.All(board.Tasks.Values, t => Assert.NotEqual("agent-02", t.AgentId));
        Assert.Equal(9, board.Team.Members.Sum(m => m.Load));
    }

    [Fact]
    public async Task MissedDeadline_TaskGoesToAnotherAgent_WithAFreshAttemptWindow()
    {
        var board = new Board(Strategies.LeastLoaded, Board.Agents(2));
        var (task, _) = await board.SubmitAsync(attemptTime: TimeSpan.FromSeconds(30));
        var first = task.AgentId!;
        Assert.Equal(Board.Start.AddSeconds(30), task.DueAt);
        board.Now = Board.Start.AddSeconds(10);
        Assert.Empty(await board.ExpireAsync());
        board.Now = Board.Start.AddSeconds(31);
        var resent = Assert.Single(await board.ExpireAsync());
        Assert.NotEqual(first, resent.AgentId);
        Assert.Equal(board.Now.AddSeconds(30), task.DueAt);
        Assert.Contains(task.History, h => h.Note == "deadline missed");
    }

    [Fact]
    public async Task NoOtherAgent_TheTaskReturnsToTheAgentItFailedOn()
    {
        var board = new Board(Strategies.LeastLoaded, Board.Agents(1));
        var (task, _) = await board.SubmitAsync();
        Assert.Equal(ResultOutcome.Retrying, await board.CompleteAsync(task.Id, "agent-01", completed: false));
        Assert.Equal("agent-01", board.Tasks[task.Id].AgentId);
        Assert.Equal(2, task.Attempts);
    }

    [Fact]
    public async Task Disband_FailsEveryOpenAndWaitingTask()
    {
        var board = new Board(Strategies.LeastLoaded, Board.Agents(1, max: 1));
        var running = (await board.SubmitAsync()).Task;
        var waiting = (await board.SubmitAsync()).Task;
        var ledger = board.Ledger();
        await board.Scheduler.DisbandAsync(board.Team, ledger, board.Now, CancellationToken.None);
        Assert.Equal(TeamStatus.Disbanded, board.Team.Status);
        Assert.Equal(TaskState.Failed, running.State);
        Assert.Equal(TaskState.Failed, waiting.State);
        Assert.Empty(board.Team.Pending);
        Assert.Equal(0, board.Load("agent-01"));
    }

    [Fact]
    public async Task ALateReportOfAnEarlierAttempt_DoesNotSettleTheNextAttemptOfTheSameAgent()
    {
        // One agent only: its failure sends the task back to it as attempt 2.
        var board = new Board(Strategies.LeastLoaded, Board.Agents(1, max: 1));
        var task = (await board.SubmitAsync(maxAttempts: 3)).Task;
        Assert.Equal(ResultOutcome.Retrying, await board.CompleteAsync(task.Id, "agent-01", completed: false, attempt: 1));
        Assert.Equal((TaskState.Assigned, 2, "agent-01"), (task.State, task.Attempts, task.AgentId));

        // The first failure's report is sent again (its answer was lost): it names attempt 1 and changes nothing.
        Assert.Equal(ResultOutcome.Duplicate, await board.CompleteAsync(task.Id, "agent-01", completed: false, attempt: 1));
        Assert.Equal((TaskState.Assigned, 2), (task.State, task.Attempts));
        // A report naming an attempt that was never given is refused.
        Assert.Equal(ResultOutcome.NotAssignee, await board.CompleteAsync(task.Id, "agent-01", attempt: 7));

        Assert.Equal(ResultOutcome.Applied, await board.CompleteAsync(task.Id, "agent-01", attempt: 2));
        Assert.Equal(TaskState.Completed, task.State);
    }

    [Fact]
    public void Release_OfAFinishedTask_IsRefused()
    {
        var task = new TaskRecord { Id = "t", TeamId = "team" };
        task.Assign("a", Board.Start);
        task.Complete("a", null, Board.Start);
        Assert.Throws<InvalidOperationException>(() => task.Release("late", Board.Start));
    }
}
