namespace Worker.Api;

/// <summary>A request the API refuses, with what OpenAI's error object says about it.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    /// <summary>OpenAI's error types by status.</summary>
    public string Type => Status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, param);

    public object ToBody() => new { error = new { message = Message, type = Type, param = Param, code = Code } };

    public IResult ToResult() => Results.Json(ToBody(), statusCode: Status);
}
