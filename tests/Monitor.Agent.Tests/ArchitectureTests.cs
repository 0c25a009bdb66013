using System.Reflection;
using System.Reflection.Emit;
using Xunit;

namespace Monitor.Agent.Tests;

/// <summary>
/// Dependencies between the agent's areas point one way (docs/architecture.md, "Code layout"): sources and samples
/// (<c>Gpu</c>) know nothing of series or jobs, <c>Jobs</c> knows nothing of <c>Collectors</c>, and the kernel formats
/// both share (<c>Kernel</c>) know neither. Every reference a type makes is checked: its base type and interfaces, the
/// types of its fields, properties, method signatures and locals, and every type, method and field its method bodies
/// name (read from the IL).
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>Area → the areas it must never reference.</summary>
    public static TheoryData<string, string> ForbiddenEdges => new()
    {
        { "Monitor.Agent.Gpu", "Monitor.Agent.Collectors" },
        { "Monitor.Agent.Gpu", "Monitor.Agent.Jobs" },
        { "Monitor.Agent.Gpu", "Monitor.Agent.Hosting" },
        { "Monitor.Agent.Jobs", "Monitor.Agent.Collectors" },
        { "Monitor.Agent.Jobs", "Monitor.Agent.Hosting" },
        { "Monitor.Agent.Collectors", "Monitor.Agent.Hosting" },
        { "Monitor.Agent.Logging", "Monitor.Agent.Collectors" },
        { "Monitor.Agent.Logging", "Monitor.Agent.Jobs" },
        { "Monitor.Agent.Logging", "Monitor.Agent.Gpu" },
        { "Monitor.Agent.Kernel", "Monitor.Agent.Collectors" },
        { "Monitor.Agent.Kernel", "Monitor.Agent.Jobs" },
        { "Monitor.Agent.Kernel", "Monitor.Agent.Gpu" },
        { "Monitor.Agent.Kernel", "Monitor.Agent.Hosting" },
    };

    [Theory]
    [MemberData(nameof(ForbiddenEdges))]
    public void Area_NeverReferencesForbiddenArea(string from, string to)
    {
        var offending = ReferencesBetween(from, to);
        Assert.True(offending.Count == 0, $"{from} must not depend on {to}, but:\n  " + string.Join("\n  ", offending));
    }

    /// <summary>The check itself can fail: Collectors do reference Gpu and Jobs (allowed edges).</summary>
    [Fact]
    public void AllowedEdges_AreSeen()
    {
        Assert.NotEmpty(ReferencesBetween("Monitor.Agent.Collectors", "Monitor.Agent.Gpu"));
        Assert.NotEmpty(ReferencesBetween("Monitor.Agent.Collectors", "Monitor.Agent.Jobs"));
        Assert.NotEmpty(ReferencesBetween("Monitor.Agent.Jobs", "Monitor.Agent.Gpu"));
        Assert.NotEmpty(ReferencesBetween("Monitor.Agent.Jobs", "Monitor.Agent.Kernel"));
        Assert.NotEmpty(ReferencesBetween("Monitor.Agent.Collectors", "Monitor.Agent.Kernel"));
    }

    private static readonly Assembly Agent = typeof(Monitor.Agent.Collectors.ICollector).Assembly;

    private static bool InArea(Type? type, string area)
    {
        for (; type is not null; type = type.DeclaringType)
        {
            if (type.IsGenericType && !type.IsGenericTypeDefinition)
            {
                type = type.GetGenericTypeDefinition();
            }

            var ns = type.Namespace;
            if (ns is not null && (ns == area || ns.StartsWith(area + ".", StringComparison.Ordinal)))
            {
                return true;
            }

            if (ns is not null)
            {
                return false;
            }
        }

        return false;
    }

    private static List<string> ReferencesBetween(string from, string to)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in Agent.GetTypes().Where(t => InArea(t, from)))
        {
            foreach (var referenced in Referenced(type))
            {
                if (Involves(referenced, to))
                {
                    found.Add($"{type.FullName} -> {Name(referenced)}");
                }
            }
        }

        return [.. found];
    }

    private static bool Involves(Type type, string area)
    {
        if (type.HasElementType)
        {
            return Involves(type.GetElementType()!, area);
        }

        return InArea(type, area) || (type.IsGenericType && type.GetGenericArguments().Any(a => Involves(a, area)));
    }

    private static string Name(Type type) => type.FullName ?? type.Name;

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> Referenced(Type type)
    {
        if (type.BaseType is { } baseType)
        {
            yield return baseType;
        }

        foreach (var i in type.GetInterfaces())
        {
            yield return i;
        }

        foreach (var field in type.GetFields(All))
        {
            yield return field.FieldType;
        }

        foreach (var property in type.GetProperties(All))
        {
            yield return property.PropertyType;
        }

        foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (method is MethodInfo info)
            {
                yield return info.ReturnType;
            }

            foreach (var parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }

            foreach (var referenced in FromBody(method))
            {
                yield return referenced;
            }
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The locals' types and every token the IL names (types, methods' declaring types, fields' types).</summary>
    private static IEnumerable<Type> FromBody(MethodBase method)
    {
        MethodBody? body;
        try
        {
            body = method.GetMethodBody();
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
        {
            yield break;
        }

        if (body is null)
        {
            yield break;
        }

        foreach (var local in body.LocalVariables)
        {
            yield return local.LocalType;
        }

        var il = body.GetILAsByteArray() ?? [];
        var typeArgs = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            var size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, i)),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                var token = BitConverter.ToInt32(il, i);
                var member = method.Module.ResolveMember(token, typeArgs, methodArgs);
                switch (member)
                {
                    case Type t:
                        yield return t;
                        break;
                    case FieldInfo f:
                        yield return f.DeclaringType!;
                        yield return f.FieldType;
                        break;
                    case MethodBase m:
                        yield return m.DeclaringType!;
                        if (m is MethodInfo mi)
                        {
                            yield return mi.ReturnType;
                        }

                        break;
                }
            }

            i += size;
        }
    }
}
