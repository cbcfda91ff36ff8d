namespace LstmPort;

/// <summary>What kind of layer a tensor belongs to.</summary>
public enum LayerType { LSTM, GRU, SimpleRNN, Dense, Embedding, Other }
