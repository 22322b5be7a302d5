from vlastack.cli import main

main()
