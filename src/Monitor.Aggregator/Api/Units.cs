namespace Monitor.Aggregator.Api;

/// <summary>The unit conversions every report uses, so that the JSON, the CSV and the pages agree.</summary>
internal static class Units
{
    /// <summary>Joules in a kilowatt-hour.</summary>
    public const double JoulesPerKilowattHour = 3.6e6;

    /// <summary>Seconds to hours.</summary>
    public static double Hours(double seconds) => seconds / 3600;

    /// <summary>Joules to kilowatt-hours.</summary>
    public static double KilowattHours(double joules) => joules / JoulesPerKilowattHour;
}
