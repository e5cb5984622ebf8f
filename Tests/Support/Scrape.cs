namespace Tests.Support;

public static class Scrape
{
    public static async Task<Dictionary<string, Family>> MetricsAsync(this HttpClient client, string query = "")
    {
        var text = await client.GetStringAsync("/metrics" + query, TestContext.Current.CancellationToken);
        return PrometheusText.Parse(text);
    }

    /// <summary>
    /// Scrapes until the families satisfy the condition, for measurements taken when a request's pipeline ends (the
    /// gateway's counts, ASP.NET Core's durations), a moment after the client has the last byte; the last scrape is
    /// returned either way for the assertions.
    /// </summary>
    public static async Task<Dictionary<string, Family>> MetricsUntilAsync(this HttpClient client, Func<Dictionary<string, Family>, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        var families = await client.MetricsAsync();
        while (!condition(families) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
            families = await client.MetricsAsync();
        }
        return families;
    }
}
