from contextual_rnn.cli import main

main()
