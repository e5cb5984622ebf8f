namespace Tests.Support;

public static class Scrape
{
    public static async Task<Dictionary<string, Family>> MetricsAsync(this HttpClient client, string query = "")
    {
        var text = await client.GetStringAsync("/metrics" + query, TestContext.Current.CancellationToken);
        return PrometheusText.Parse(text);
    }
}
