namespace LstmPort;

/// <summary>Whose conventions a tensor follows: matrix orientation, gate order, bias split.</summary>
public enum Layout { Keras, TensorFlow, Torch, Onnx }
