"""Makes the two PyTorch checkpoints of README's "A nested PyTorch checkpoint" with real torch.

    /usr/bin/python3 examples/make_checkpoints.py <folder>

checkpoint.pth       {'model': state_dict, 'optimizer': Adam state, 'epoch': 3}, as most training
                     scripts save it
checkpoint_args.pth  {'args': argparse.Namespace, 'model': state_dict of a DataParallel model, 'epoch': 3},
                     as fairseq-style scripts save it: the Namespace is a pickled Python object and
                     every key starts with module.
"""
import argparse, os, sys
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 8, num_layers=2, batch_first=True)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 5)
        self.encoder = Encoder()
        self.head = nn.Linear(8, 3)

    def forward(self, tokens):
        y, _ = self.encoder.rnn(self.embed(tokens))
        return self.head(y)


folder = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(folder, exist_ok=True)
torch.manual_seed(0)
model = Tagger()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model(torch.randint(0, 20, (4, 9))).sum().backward()
optimizer.step()

torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3},
           os.path.join(folder, "checkpoint.pth"))
args = argparse.Namespace(hidden=8, layers=2, lr=1e-3)
torch.save({"args": args, "model": nn.DataParallel(model).state_dict(), "epoch": 3},
           os.path.join(folder, "checkpoint_args.pth"))
print(f"wrote {folder}/checkpoint.pth and {folder}/checkpoint_args.pth")
