"""Registry cases for the recurrent layers and the embedding."""

from registry import Case

import fnnet as fn

CASES = [
    Case("rnn_simple", fn.RNN(fn.SimpleRNNCell(4)), (5, 3)),
    Case("rnn_lstm_last", fn.RNN(fn.LSTMCell(4), return_sequences=False), (5, 3)),
    Case(
        "rnn_lstm_scan_reverse",
        fn.RNN(fn.LSTMCell(3), reverse=True, formulation="scan"),
        (4, 2),
    ),
    Case("rnn_lstm_bi_stacked", fn.RNN(fn.LSTMCell(3), num_layers=2, bidirectional=True), (4, 2)),
    Case(
        "rnn_gru_bi_sum_learned",
        fn.RNN(fn.GRUCell(3), bidirectional=True, merge="sum", initial_state="learned"),
        (4, 2),
    ),
    Case(
        "rnn_dropout",
        fn.RNN(fn.SimpleRNNCell(3), num_layers=2, dropout_rate=0.3),
        (4, 2),
        training=True,
    ),
    Case("rnn_lstm_fused_bi", fn.RNN(fn.LSTMCell(3), bidirectional=True, formulation="fused"), (4, 2)),
    Case("rnn_gru_fused", fn.RNN(fn.GRUCell(3), formulation="fused"), (4, 2)),
    Case("embedding", fn.Embedding(6, 3), (4,), int_inputs=6),
]
