using System.Runtime.CompilerServices;
using LstmPort.Conversion;
using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.Onnx;
using LstmPort.Frameworks.TensorFlow;
using LstmPort.Frameworks.Torch;

namespace LstmPort.Formats;

/// <summary>
/// Where the frameworks plug into the layers that must not know them, when the engine loads: each
/// registers its mapping to and from the canonical form and its reference maths. A new framework
/// adds its line.
/// </summary>
static class FrameworkRegistry
{
    [ModuleInitializer]
    internal static void Register()
    {
        Add(new KerasMaths(), new KerasMapping(), new KerasMapping());
        Add(new TorchMaths(), new TorchMapping(), new TorchMapping());
        Add(new Tf1Maths(), new Tf1Mapping(), to: null);
        Add(new OnnxMaths(), new OnnxMapping(), new OnnxMapping());
    }

    static void Add(ILayoutMaths maths, IToCanonical from, IFromCanonical? to)
    {
        LayoutMaths.Register(maths);
        LayoutMappings.Register(from);
        if (to is not null) LayoutMappings.Register(to);
    }
}
