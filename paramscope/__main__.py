from paramscope.cli.main import main

main()
