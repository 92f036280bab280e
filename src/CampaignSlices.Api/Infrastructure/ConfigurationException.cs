using System.Text.RegularExpressions;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// A setting is missing or wrong. Its message is one line that names the setting and how to give it;
/// start-up prints only that line (standard error, exit code 1), since a stack trace says nothing more.
/// </summary>
public sealed partial class ConfigurationException(string message) : Exception(message)
{
    public const int ExitCode = 1;

    /// <summary>The environment variable that sets <paramref name="key"/>: `Auth:SigningKey` is `Auth__SigningKey`.</summary>
    public static string EnvironmentVariable(string key) => key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>
    /// For AppDomain.UnhandledException: a configuration error that escapes Program ends the process
    /// with its one line instead of the runtime's unhandled-exception dump. Anything else is left alone.
    /// </summary>
    public static void ExitWithMessage(object sender, UnhandledExceptionEventArgs e)
    {
        if (Describe(e.ExceptionObject as Exception) is not { } line)
            return;
        Console.Error.WriteLine(line);
        Environment.Exit(ExitCode);
    }

    private static string? Describe(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is ConfigurationException)
                return error.Message;
            // A value the binder cannot convert: "Failed to convert configuration value 'x' at 'Scheduling:Retries' to type 'System.Int32'."
            if (error is InvalidOperationException { Source: "Microsoft.Extensions.Configuration.Binder" })
                return BinderKey().Match(error.Message) is { Success: true } key
                    ? $"{error.Message.TrimEnd('.')} (e.g. the {EnvironmentVariable(key.Groups[1].Value)} environment variable)."
                    : error.Message;
        }
        return null;
    }

    [GeneratedRegex(" at '([^']+)'")]
    private static partial Regex BinderKey();
}
