from backtest.cli import main

raise SystemExit(main())
