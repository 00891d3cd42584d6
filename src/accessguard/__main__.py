from accessguard.cli.main import main

main()
