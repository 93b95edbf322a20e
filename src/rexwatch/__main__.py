from rexwatch.cli.main import main

main()
