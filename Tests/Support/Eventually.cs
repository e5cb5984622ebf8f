namespace Tests.Support;

/// <summary>
/// Waiting for what happens a moment later (an engine step, a span or count the host records after the response,
/// a server becoming ready, a Prometheus scrape): reads again until the condition holds or the time is up, and
/// returns the last reading either way, so the caller's assertion says what was wrong.
/// </summary>
public static class Eventually
{
    public static async Task<T> ReadUntilAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan timeout, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var value = await read();
        while (!condition(value) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(10), TestContext.Current.CancellationToken);
            value = await read();
        }
        return value;
    }

    public static Task<T> ReadUntilAsync<T>(Func<T> read, Func<T, bool> condition, TimeSpan timeout, TimeSpan? interval = null) =>
        ReadUntilAsync(() => Task.FromResult(read()), condition, timeout, interval);
}
