from realtime_style.cli import main

main()
