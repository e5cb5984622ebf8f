namespace Worker.Engine;

/// <summary>What POST /pause does with the requests in flight (vLLM's PauseMode).</summary>
public enum PauseMode
{
    /// <summary>Abort them at once (vLLM's default).</summary>
    Abort,

    /// <summary>Let them finish, taking no new one meanwhile; paused once the last has ended.</summary>
    Wait,

    /// <summary>Freeze them where they are, holding their KV; they go on after POST /resume.</summary>
    Keep,
}
