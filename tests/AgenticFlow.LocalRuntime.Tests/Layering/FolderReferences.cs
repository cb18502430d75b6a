using System.Reflection;
using System.Reflection.Emit;

namespace AgenticFlow.LocalRuntime.Tests.Layering;

/// <summary>
/// Which runtime folders each folder uses, read from the compiled runtime assembly: for every type (nested and
/// compiler-made ones count for the type that contains them: lambdas, async state machines), the types in its
/// signatures (base type, interfaces, fields, properties, parameters, return and local types, generic arguments)
/// and every type, method and field its IL names. A folder is the namespace segment after
/// <c>AgenticFlow.LocalRuntime</c>; the source test checks that each file's namespace is its folder. Reading IL
/// sees what the compiler resolved, so fully qualified names, global usings and aliases cannot hide a use.
/// </summary>
public static class FolderReferences
{
    public const string RootNamespace = "AgenticFlow.LocalRuntime";

    /// <summary>Types of the root namespace (Program) are listed under this name.</summary>
    public const string RootFolder = "(root)";

    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Folder → the other folders it uses, with one type that shows each use.</summary>
    public static Dictionary<string, Dictionary<string, string>> Read(Assembly assembly)
    {
        var graph = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes())
        {
            var from = FolderOf(type, assembly);
            if (from is null)
            {
                continue;
            }
            var uses = graph.TryGetValue(from, out var found) ? found : graph[from] = new(StringComparer.Ordinal);
            foreach (var used in TypesUsedBy(type))
            {
                if (FolderOf(used, assembly) is { } to && to != from)
                {
                    uses.TryAdd(to, $"{Outermost(type).FullName} uses {used.FullName}");
                }
            }
        }
        return graph;
    }

    public static string? FolderOf(Type type, Assembly assembly)
    {
        type = Outermost(type);
        if (type.Assembly != assembly || type.Namespace is not { } ns)
        {
            return null;
        }
        if (ns == RootNamespace)
        {
            return RootFolder;
        }
        return ns.StartsWith(RootNamespace + ".", StringComparison.Ordinal) ? ns[(RootNamespace.Length + 1)..].Split('.')[0] : null;
    }

    private static Type Outermost(Type type)
    {
        while (type.IsGenericParameter ? false : type.DeclaringType is { } outer)
        {
            type = outer;
        }
        return type;
    }

    private static IEnumerable<Type> TypesUsedBy(Type type)
    {
        var seen = new List<Type>();
        void Add(Type? t)
        {
            if (t is null || t.IsGenericParameter)
            {
                return;
            }
            if (t.HasElementType)
            {
                Add(t.GetElementType());
                return;
            }
            seen.Add(t);
            if (t.IsGenericType)
            {
                foreach (var argument in t.GetGenericArguments())
                {
                    Add(argument);
                }
            }
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces())
        {
            Add(i);
        }
        foreach (var field in type.GetFields(Everything))
        {
            Add(field.FieldType);
        }
        foreach (var property in type.GetProperties(Everything))
        {
            Add(property.PropertyType);
        }
        foreach (var method in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (method is MethodInfo info)
            {
                Add(info.ReturnType);
            }
            foreach (var parameter in method.GetParameters())
            {
                Add(parameter.ParameterType);
            }
            foreach (var used in TypesInBody(type, method))
            {
                Add(used);
            }
        }
        return seen;
    }

    /// <summary>The local variable types of a method and the types its IL names (directly, or as the declaring
    /// type of a method or field it names, with a generic method's type arguments).</summary>
    private static IEnumerable<Type> TypesInBody(Type type, MethodBase method)
    {
        var body = method.GetMethodBody();
        if (body is null)
        {
            yield break;
        }
        foreach (var local in body.LocalVariables)
        {
            yield return local.LocalType;
        }
        var il = body.GetILAsByteArray() ?? [];
        var typeArguments = type.IsGenericTypeDefinition ? type.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethodDefinition ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            short value = il[at++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[at++]);
            }
            var opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineType or OperandType.InlineTok or OperandType.InlineMethod or OperandType.InlineField:
                    var token = BitConverter.ToInt32(il, at);
                    var member = method.Module.ResolveMember(token, typeArguments, methodArguments)
                        ?? throw new InvalidOperationException($"token {token:x8} in {type.FullName}.{method.Name} does not resolve");
                    if (member is Type named)
                    {
                        yield return named;
                    }
                    else
                    {
                        yield return member.DeclaringType!;
                        if (member is MethodInfo { IsGenericMethod: true } generic)
                        {
                            foreach (var argument in generic.GetGenericArguments())
                            {
                                yield return argument;
                            }
                        }
                    }
                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + 4 * BitConverter.ToInt32(il, at);
                    break;
                default:
                    at += OperandSize(opCode.OperandType);
                    break;
            }
        }
    }

    private static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4,
    };
}
