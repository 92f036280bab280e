using System.Diagnostics;
using FluentValidation;
using Mediator;
using OneOf;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// A request whose validators (every <see cref="IValidator{T}"/> registered for it) run before its
/// handler; a failure is answered as the request's own <see cref="Invalid"/> outcome, never thrown.
/// </summary>
public interface IValidatedRequest<out TResponse>
{
    TResponse Reject(Invalid invalid);
}

/// <summary>The card's mediator: each slice is a request and its handler; validation and logging are behaviours, once.</summary>
public static class Mediation
{
    public static void AddMediation(this IServiceCollection services) =>
        services.AddMediator(options =>
        {
            options.ServiceLifetime = ServiceLifetime.Singleton;
            options.PipelineBehaviors = [typeof(LoggingBehaviour<,>), typeof(ValidationBehaviour<,>)];
        });
}

/// <summary>Runs the request's validators; the handler sees only requests that passed them all.</summary>
public sealed class ValidationBehaviour<TMessage, TResponse>(IEnumerable<IValidator<TMessage>> validators) : IPipelineBehavior<TMessage, TResponse>
    where TMessage : IMessage, IValidatedRequest<TResponse>
{
    private readonly IValidator<TMessage>[] _validators = [.. validators];

    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        foreach (var validator in _validators)
            foreach (var (field, messages) in (await validator.ValidateAsync(message, ct)).ToErrors())
                errors[field] = errors.TryGetValue(field, out var earlier) ? [.. earlier.Union(messages)] : messages;
        return errors.Count > 0 ? message.Reject(new Invalid(errors)) : await next(message, ct);
    }
}

/// <summary>One line per command with its outcome and duration; queries only at Debug, so reads stay cheap.</summary>
public sealed class LoggingBehaviour<TMessage, TResponse>(ILogger<LoggingBehaviour<TMessage, TResponse>> logger) : IPipelineBehavior<TMessage, TResponse>
    where TMessage : IMessage
{
    private static readonly string Name = typeof(TMessage).FullName!.Replace('+', '.').Replace("CampaignSlices.Api.", "", StringComparison.Ordinal);

    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken ct)
    {
        var level = message is IBaseCommand ? LogLevel.Information : LogLevel.Debug;
        if (!logger.IsEnabled(level))
            return await next(message, ct);
        var started = Stopwatch.GetTimestamp();
        var response = await next(message, ct);
        var outcome = response is IOneOf union ? union.Value?.GetType().Name : typeof(TResponse).Name;
        logger.Log(level, "{Request} answered {Outcome} in {ElapsedMs:0.0} ms", Name, outcome, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return response;
    }
}
