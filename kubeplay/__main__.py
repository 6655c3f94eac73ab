import sys

if sys.argv[1:] == ["agent", "--idle-exit"]:  # the background supervisor: cli.agent
    from kubeplay.cli.agent import main
else:
    from kubeplay.cli.main import main

main()
