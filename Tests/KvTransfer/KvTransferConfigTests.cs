using Tests.Support;
using Worker.KvTransfer;

namespace Tests.KvTransfer;

/// <summary>--kv-transfer-config takes vLLM's JSON and says exactly what is wrong with a bad one, before anything loads.</summary>
public class KvTransferConfigTests
{
    [Theory]
    [InlineData("kv_producer", KvRole.Producer)]
    [InlineData("kv_consumer", KvRole.Consumer)]
    [InlineData("kv_both", KvRole.Both)]
    public void vLLMsRoles_AreRead(string role, KvRole expected)
    {
        var config = KvTransferConfig.Parse($$"""{"kv_connector":"TcpKvConnector","kv_role":"{{role}}","kv_buffer_device":"cuda","kv_rank":0}""");

        Assert.Equal(expected, config.Role);
        Assert.Equal(("127.0.0.1", KvTransferConfig.DefaultPort), (config.Host, config.Port));
    }

    [Theory]
    [InlineData("""{"kv_connector":"NixlConnector","kv_role":"kv_both"}""", "NIXL")]
    [InlineData("""{"kv_role":"kv_both"}""", "\"kv_connector\" is required")]
    [InlineData("""{"kv_connector":"TcpKvConnector","kv_role":"kv_sender"}""", "kv_producer, kv_consumer or kv_both")]
    [InlineData("""{"kv_connector":"TcpKvConnector","kv_role":"kv_both","kv_port":70000}""", "\"kv_port\"")]
    [InlineData("""{"kv_connector":"TcpKvConnector","kv_role":"kv_both","kv_ip":"prefill0"}""", "\"kv_ip\"")]
    [InlineData("""{"kv_connector":"TcpKvConnector","kv_role":"kv_both","kv_prot":1}""", "\"kv_prot\" is not a field")]
    [InlineData("""{"kv_connector":"TcpKvConnector","kv_role":"kv_both","kv_connector_extra_config":{"abort_request_timeout":0}}""", "abort_request_timeout")]
    [InlineData("""[1]""", "JSON object")]
    public void ABadConfig_IsRefused_NamingWhatIsWrong(string json, string why)
    {
        var error = Assert.Throws<InvalidOperationException>(() => KvTransferConfig.Parse(json));

        Assert.StartsWith("--kv-transfer-config is invalid", error.Message);
        Assert.Contains(why, error.Message);
    }

    /// <summary>
    /// Started as an operator starts it: the process stops with a non-zero exit code, naming the problem. (In memory, the
    /// test host's start can race the application's own disposal of the failed host and report that instead.)
    /// </summary>
    [Fact]
    public async Task AWorkerGivenABadConfig_DoesNotStart()
    {
        var config = """{"kv_connector":"NixlConnector","kv_role":"kv_both"}""".Replace("\"", "\\\"", StringComparison.Ordinal);

        var (exitCode, output) = await ServiceProcess.RunWorkerAsync($"--model \"{TinyModel.Directory}\" --kv-transfer-config \"{config}\" --urls http://127.0.0.1:{Processes.FreeTcpPort()}");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("NIXL", output);
    }
}
