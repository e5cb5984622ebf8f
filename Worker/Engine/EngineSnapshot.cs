namespace Worker.Engine;

/// <summary>The engine's own counts after its latest step: what tests and operators check for leaks.</summary>
public sealed record EngineSnapshot(int Running, int Waiting, int ActiveRequests, int LiveGenerators, long Steps);
