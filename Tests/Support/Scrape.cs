namespace Tests.Support;

public static class Scrape
{
    public static async Task<Dictionary<string, Family>> MetricsAsync(this HttpClient client, string query = "")
    {
        using var response = await client.GetAsync("/metrics" + query, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"/metrics answered {(int)response.StatusCode}: {text}");
        return PrometheusText.Parse(text);
    }

    /// <summary>/metrics in OpenMetrics, the format that carries exemplars.</summary>
    public static async Task<Dictionary<string, Family>> OpenMetricsAsync(this HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text");
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>
    /// Scrapes until the families satisfy the condition, for measurements taken when a request's pipeline ends (the
    /// gateway's counts, ASP.NET Core's durations), a moment after the client has the last byte; the last scrape is
    /// returned either way for the assertions.
    /// </summary>
    public static Task<Dictionary<string, Family>> MetricsUntilAsync(this HttpClient client, Func<Dictionary<string, Family>, bool> condition) =>
        Eventually.ReadUntilAsync(() => client.MetricsAsync(), condition, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
}
