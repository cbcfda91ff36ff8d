namespace LstmPort;

/// <summary>
/// Every ErrorId LstmPort reports, each with its one <see cref="ErrorKind"/> (and so one PowerShell
/// ErrorCategory), what it means and what to do. Exceptions and error records take their kind from
/// <see cref="Catalogue"/>; about_LstmPort's ERROR IDS table lists the same ids (a test checks both).
/// </summary>
public static class ErrorIds
{
    // What each id means and what to do about it: Catalogue, below.
    public const string FileNotFound = nameof(FileNotFound);
    public const string PathIsDirectory = nameof(PathIsDirectory);
    public const string DirectoryNotFound = nameof(DirectoryNotFound);
    public const string InvalidPath = nameof(InvalidPath);
    public const string NotAFileSystemPath = nameof(NotAFileSystemPath);
    public const string FileExists = nameof(FileExists);
    public const string FileReadError = nameof(FileReadError);
    public const string FileWriteError = nameof(FileWriteError);
    public const string EmptyFile = nameof(EmptyFile);
    public const string UnknownFormat = nameof(UnknownFormat);
    public const string NotKerasFile = nameof(NotKerasFile);
    public const string NotKerasConfig = nameof(NotKerasConfig);
    public const string NotTensorBundle = nameof(NotTensorBundle);
    public const string ShardNotFound = nameof(ShardNotFound);
    public const string UnsupportedVersion = nameof(UnsupportedVersion);
    public const string UnsupportedCompression = nameof(UnsupportedCompression);
    public const string UnsupportedSlicedTensor = nameof(UnsupportedSlicedTensor);
    public const string CudnnSizesUnknown = nameof(CudnnSizesUnknown);
    public const string UnsafePickleGlobal = nameof(UnsafePickleGlobal);
    public const string UnknownPickleOpcode = nameof(UnknownPickleOpcode);
    public const string PickleLimitExceeded = nameof(PickleLimitExceeded);
    public const string NoTensors = nameof(NoTensors);
    public const string TruncatedFile = nameof(TruncatedFile);
    public const string CorruptFile = nameof(CorruptFile);
    public const string CorruptProtobuf = nameof(CorruptProtobuf);
    public const string ChecksumMismatch = nameof(ChecksumMismatch);
    public const string TensorOutOfRange = nameof(TensorOutOfRange);
    public const string OverlappingTensorData = nameof(OverlappingTensorData);
    public const string TensorSizeMismatch = nameof(TensorSizeMismatch);
    public const string TensorShapeMismatch = nameof(TensorShapeMismatch);
    public const string TensorTooLarge = nameof(TensorTooLarge);
    public const string UnsupportedDType = nameof(UnsupportedDType);
    public const string TensorReadError = nameof(TensorReadError);
    public const string TensorDataError = nameof(TensorDataError);
    public const string LayerShapeMismatch = nameof(LayerShapeMismatch);
    public const string ShapeMismatch = nameof(ShapeMismatch);
    public const string MissingTensor = nameof(MissingTensor);
    public const string DuplicateTensor = nameof(DuplicateTensor);
    public const string InvalidConfigValue = nameof(InvalidConfigValue);
    public const string UnsupportedActivation = nameof(UnsupportedActivation);
    public const string UnsupportedLayerType = nameof(UnsupportedLayerType);
    public const string UnsupportedLayout = nameof(UnsupportedLayout);
    public const string UnsupportedProjection = nameof(UnsupportedProjection);
    public const string NotKerasPortable = nameof(NotKerasPortable);
    public const string NotTorchPortable = nameof(NotTorchPortable);
    public const string NotKerasLayout = nameof(NotKerasLayout);
    public const string CannotMergeGruBias = nameof(CannotMergeGruBias);
    public const string CannotStack = nameof(CannotStack);
    public const string NothingToStack = nameof(NothingToStack);
    public const string InvalidRatio = nameof(InvalidRatio);
    public const string DuplicateTensorName = nameof(DuplicateTensorName);
    public const string InvalidTensorName = nameof(InvalidTensorName);
    public const string InvalidCheckOptions = nameof(InvalidCheckOptions);
    public const string LayerNotEquivalent = nameof(LayerNotEquivalent);
    public const string LayerUnmatched = nameof(LayerUnmatched);
    public const string LayerMismatch = nameof(LayerMismatch);
    public const string NothingToCompare = nameof(NothingToCompare);
    public const string NotEquivalent = nameof(NotEquivalent);
    public const string CheckFailed = nameof(CheckFailed);
    public const string TorchLoadFailed = nameof(TorchLoadFailed);
    public const string OnnxNotConstant = nameof(OnnxNotConstant);
    public const string OnnxExternalDataOutside = nameof(OnnxExternalDataOutside);
    public const string NotOnnxPortable = nameof(NotOnnxPortable);
    public const string NotOnnxLayout = nameof(NotOnnxLayout);
    public const string OnnxRunFailed = nameof(OnnxRunFailed);
    public const string OnnxRuntimeLoadFailed = nameof(OnnxRuntimeLoadFailed);

    /// <summary>Each id's kind, meaning and what to do: the single source of an id's kind.</summary>
    public static IReadOnlyDictionary<string, (ErrorKind Kind, string Meaning, string WhatToDo)> Catalogue { get; } =
        new Dictionary<string, (ErrorKind, string, string)>(StringComparer.Ordinal)
        {
            [FileNotFound] = (ErrorKind.ObjectNotFound, "The file (or a file it needs) does not exist, or is gone since it was listed.",
                "Check the path; read the file again."),
            [PathIsDirectory] = (ErrorKind.InvalidArgument, "The path names a folder where a file is expected.",
                "Give the path of a file."),
            [DirectoryNotFound] = (ErrorKind.ObjectNotFound, "The folder to write into does not exist.",
                "Create the folder first."),
            [InvalidPath] = (ErrorKind.InvalidArgument, "The path cannot be resolved (bad syntax, unknown drive or provider).",
                "Correct the path."),
            [NotAFileSystemPath] = (ErrorKind.InvalidArgument, "The path is on a provider other than FileSystem.",
                "Give a file system path."),
            [FileExists] = (ErrorKind.ResourceExists, "The file to write exists already.",
                "Use -Force to replace it, or another name."),
            [FileReadError] = (ErrorKind.ReadError, "The operating system refused or failed a read.",
                "Check permissions, locks and the disk."),
            [FileWriteError] = (ErrorKind.WriteError, "Writing the file failed; nothing is left at the target.",
                "Check permissions and free space."),
            [EmptyFile] = (ErrorKind.InvalidData, "The file has no bytes.",
                "Give the complete weight file."),
            [UnknownFormat] = (ErrorKind.InvalidData, "The file is not a format LstmPort reads, or the extension names no format it writes.",
                "Check the file; give -Format or a known extension."),
            [NotKerasFile] = (ErrorKind.InvalidData, "An HDF5 file without the structure of a Keras weights file.",
                "Save the weights with Keras (save_weights or save)."),
            [NotKerasConfig] = (ErrorKind.InvalidData, "The -Config file is not a Keras model config that lists the model's layers.",
                "Give the model's config.json (model.to_json()) or its .keras archive."),
            [NotTensorBundle] = (ErrorKind.InvalidData, "A .index file that is not a TensorFlow checkpoint table.",
                "Give the checkpoint's .index file or its prefix."),
            [ShardNotFound] = (ErrorKind.ObjectNotFound, "A data shard that a TensorFlow checkpoint names is missing.",
                "Keep the .data-* files beside the .index file."),
            [UnsupportedVersion] = (ErrorKind.NotSupported, "A legacy PyTorch file of a protocol LstmPort does not read.",
                "Re-save with a current torch.save."),
            [UnsupportedCompression] = (ErrorKind.NotSupported, "A compression method LstmPort does not read.",
                "Re-save without that compression."),
            [UnsupportedSlicedTensor] = (ErrorKind.NotSupported, "A checkpoint tensor stored as partitioned slices.",
                "Save the variables unpartitioned."),
            [CudnnSizesUnknown] = (ErrorKind.InvalidData, "A cuDNN opaque parameter buffer whose layer sizes the file does not record.",
                "Keep the checkpoint's .meta file beside it."),
            [UnsafePickleGlobal] = (ErrorKind.Security, "A PyTorch pickle names code to run; it is never run.",
                "Use -SkipUnsafeObjects for its tensors, or save a state_dict."),
            [PickleLimitExceeded] = (ErrorKind.InvalidData, "A pickle needs more stack, nesting, memo or objects than allowed.",
                "Do not trust the file; save a plain state_dict."),
            [UnknownPickleOpcode] = (ErrorKind.InvalidData, "A pickle opcode that no PyTorch state_dict uses.",
                "Re-save the state_dict with torch.save."),
            [NoTensors] = (ErrorKind.InvalidData, "The file, or the input to write, holds no tensors.",
                "Check the file or what is piped in."),
            [TruncatedFile] = (ErrorKind.InvalidData, "The file ends before its data does.",
                "Copy or download the file again."),
            [CorruptFile] = (ErrorKind.InvalidData, "The file's structure is damaged or contradicts itself.",
                "Copy the file again, or re-save it."),
            [CorruptProtobuf] = (ErrorKind.InvalidData, "A TensorFlow protobuf message in the file is damaged.",
                "Copy the file again, or re-save it."),
            [ChecksumMismatch] = (ErrorKind.InvalidData, "Data fails the CRC checksum the file carries.",
                "Copy the file again; other tensors are still read."),
            [TensorOutOfRange] = (ErrorKind.InvalidData, "A tensor's data lies outside the file or its section.",
                "Copy the file again, or re-save it."),
            [OverlappingTensorData] = (ErrorKind.InvalidData, "Two tensors claim the same bytes of a file.",
                "Re-save the file."),
            [TensorSizeMismatch] = (ErrorKind.InvalidData, "A tensor's shape and dtype disagree with its stored byte count.",
                "Re-save the file."),
            [TensorShapeMismatch] = (ErrorKind.InvalidData, "The data read has another shape than the file's listing said.",
                "Read the file again; it changed since."),
            [TensorTooLarge] = (ErrorKind.InvalidData, "A tensor is larger than LstmPort can read, hold or write there.",
                "Check the shape; slice .Tensor or use another format."),
            [UnsupportedDType] = (ErrorKind.NotSupported, "A dtype LstmPort does not read or the target format cannot hold.",
                "Cast the tensors, e.g. to float32."),
            [TensorReadError] = (ErrorKind.ReadError, "Reading a tensor's data failed for another reason.",
                "See the inner exception; read the file again."),
            [TensorDataError] = (ErrorKind.InvalidData, "A tensor's data could not be decoded during a check.",
                "Copy the file again, or re-save it."),
            [LayerShapeMismatch] = (ErrorKind.InvalidData, "A layer's weights contradict its config or each other.",
                "Check the model; re-save it."),
            [ShapeMismatch] = (ErrorKind.InvalidData, "A layer's tensor has a shape its layer type does not allow.",
                "Check the tensors of that layer."),
            [MissingTensor] = (ErrorKind.InvalidData, "A layer lacks a tensor it needs (a kernel, a bias, ...).",
                "Pass all tensors of the layer."),
            [DuplicateTensor] = (ErrorKind.InvalidData, "A layer has two tensors of one role.",
                "Pass each layer's tensors once."),
            [InvalidConfigValue] = (ErrorKind.InvalidData, "A layer setting has a value of the wrong type or range.",
                "Correct the Config value."),
            [UnsupportedActivation] = (ErrorKind.NotSupported, "An activation the equivalence check does not implement.",
                "Compare layers with supported activations."),
            [UnsupportedLayerType] = (ErrorKind.NotSupported, "A layer type with no reference implementation.",
                "Leave that layer out of the check."),
            [UnsupportedLayout] = (ErrorKind.NotSupported, "A layer in a layout that cannot be converted or run yet.",
                "Convert it to the Keras or Torch layout first."),
            [UnsupportedProjection] = (ErrorKind.NotSupported, "An LSTM with proj_size, which the check cannot run.",
                "Leave that layer out of the check."),
            [NotKerasPortable] = (ErrorKind.InvalidData, "The layer has no exact Keras equivalent.",
                "Keep it in its framework or change the model."),
            [NotTorchPortable] = (ErrorKind.InvalidData, "The layer has no exact PyTorch equivalent.",
                "Use -Force to convert without what differs."),
            [NotKerasLayout] = (ErrorKind.InvalidArgument, "A Keras file is asked to hold tensors of another layout.",
                "Run ConvertTo-KerasLayout first."),
            [CannotMergeGruBias] = (ErrorKind.InvalidData, "A GRU's b_hn is not zero, so the biases cannot merge.",
                "Keep both biases (Split-LstmBias)."),
            [CannotStack] = (ErrorKind.InvalidArgument, "The layers cannot form one multi-layer module.",
                "Check -StackAs and the layers' sizes."),
            [NothingToStack] = (ErrorKind.InvalidArgument, "-StackAs was given but there are no recurrent layers.",
                "Drop -StackAs or pass recurrent layers."),
            [InvalidRatio] = (ErrorKind.InvalidArgument, "-Ratio is outside 0..1.",
                "Give a ratio between 0 and 1."),
            [DuplicateTensorName] = (ErrorKind.InvalidArgument, "Two tensors to write have the same name.",
                "Rename or drop one of them."),
            [InvalidTensorName] = (ErrorKind.InvalidArgument, "A tensor or layer name the target format cannot store.",
                "Rename the tensor or layer."),
            [InvalidCheckOptions] = (ErrorKind.InvalidArgument, "SequenceLength, BatchSize or Tolerance is out of range.",
                "Give positive sizes and a tolerance >= 0."),
            [LayerNotEquivalent] = (ErrorKind.InvalidResult, "A layer's outputs differ beyond the tolerance.",
                "Check the conversion; see MaxAbsError."),
            [LayerUnmatched] = (ErrorKind.ObjectNotFound, "A layer is in one weight set only.",
                "Pass matching layers, or ignore it."),
            [LayerMismatch] = (ErrorKind.InvalidData, "Paired layers differ in type or size.",
                "Pair the right layers (-Layer)."),
            [NothingToCompare] = (ErrorKind.InvalidData, "Neither set has a recurrent or Dense layer.",
                "Pass the weights of recurrent layers."),
            [NotEquivalent] = (ErrorKind.InvalidResult, "-Strict: some layer did not pass.",
                "See the results written before it."),
            [CheckFailed] = (ErrorKind.InvalidData, "A layer could not be run for an unexpected reason.",
                "See the Reason; report it as a bug."),
            [TorchLoadFailed] = (ErrorKind.ResourceUnavailable, "The native libtorch library could not be loaded.",
                "Reinstall the module for this platform."),
            [OnnxNotConstant] = (ErrorKind.NotSupported, "An ONNX layer's weight is a run-time input or computed by an operator LstmPort does not fold.",
                "Export the model with weights as initializers (or give the backend test's test_data_set_0)."),
            [OnnxExternalDataOutside] = (ErrorKind.Security, "An ONNX tensor names external data outside the model's folder; it is never read.",
                "Keep external data files inside the model's folder; do not trust the file."),
            [NotOnnxPortable] = (ErrorKind.InvalidData, "The layer has no exact ONNX operator equivalent.",
                "Keep it in its framework or change the model."),
            [NotOnnxLayout] = (ErrorKind.InvalidArgument, "An .onnx file is asked to hold tensors of another layout.",
                "Run ConvertTo-OnnxLayout first."),
            [OnnxRunFailed] = (ErrorKind.InvalidData, "ONNX Runtime refused or failed to run a layer.",
                "See the message; check the layer's attributes and shapes."),
            [OnnxRuntimeLoadFailed] = (ErrorKind.ResourceUnavailable, "The native ONNX Runtime library could not be loaded.",
                "Reinstall the module for this platform."),
        };

    /// <summary>
    /// The name of the PowerShell ErrorCategory of a kind (the engine does not reference PowerShell;
    /// the cmdlets parse this name, and the about topic's table shows it).
    /// </summary>
    public static string CategoryOf(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidData => "InvalidData",
        ErrorKind.ObjectNotFound => "ObjectNotFound",
        ErrorKind.NotSupported => "NotImplemented",
        ErrorKind.Security => "SecurityError",
        ErrorKind.InvalidArgument => "InvalidArgument",
        ErrorKind.ResourceExists => "ResourceExists",
        ErrorKind.WriteError => "WriteError",
        ErrorKind.ReadError => "ReadError",
        ErrorKind.InvalidResult => "InvalidResult",
        ErrorKind.ResourceUnavailable => "ResourceUnavailable",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "an ErrorKind without an ErrorCategory"),
    };

    /// <summary>The kind of a catalogued id; an id missing from the catalogue is a bug and throws.</summary>
    public static ErrorKind KindOf(string errorId) =>
        errorId is not null && Catalogue.TryGetValue(errorId, out var entry) ? entry.Kind
        : throw new ArgumentException($"'{errorId}' is not an ErrorId in ErrorIds.Catalogue.", nameof(errorId));
}
