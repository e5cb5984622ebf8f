using Worker.Hosting;

namespace Tests.Architecture;

/// <summary>
/// The worker's parts talk one way: Engine plans and owns the requests, Runner executes and samples, KvTransfer moves
/// bytes by ids and block ranges, Output and Metrics read records. A cycle between any two makes one unchangeable
/// without the other.
/// </summary>
public class NamespaceCycleTests
{
    private static readonly Dictionary<string, HashSet<string>> Graph = NamespaceDependencies.Of(typeof(EngineHost).Assembly);

    [Fact]
    public void WorkerParts_DependOnEachOtherWithoutACycle()
    {
        var cycle = NamespaceDependencies.FindCycle(Graph);
        Assert.True(cycle is null, $"The worker's namespaces form a cycle: {string.Join(" → ", cycle ?? [])}");
    }

    [Fact]
    public void TheEngine_ReachesNeitherIntoTheModelBuilderNorIntoTheApi()
    {
        Assert.DoesNotContain("ModelBuilder", Graph["Engine"]);
        Assert.DoesNotContain("Api", Graph["Engine"]);
        Assert.DoesNotContain("Hosting", Graph["Engine"]);
    }

    [Fact]
    public void TheScanner_SeesTheDependenciesThatMethodBodiesAlone_Create()
    {
        // Hosting names the model builder only inside method bodies (the default model, the draft folder's name);
        // the engine uses the runner and the connector through fields and calls.
        Assert.Contains("ModelBuilder", Graph["Hosting"]);
        Assert.Contains("Runner", Graph["Engine"]);
        Assert.Contains("KvTransfer", Graph["Engine"]);
        Assert.Contains("Runner", Graph["KvTransfer"]);
    }

    [Fact]
    public void FindCycle_NamesTheCycle()
    {
        var graph = new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"], ["D"] = ["A"] };
        Assert.Equal(["A", "B", "C", "A"], NamespaceDependencies.FindCycle(graph));
        Assert.Null(NamespaceDependencies.FindCycle(new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = [] }));
    }
}
