from minimax_cli.cli.app import main

main()
