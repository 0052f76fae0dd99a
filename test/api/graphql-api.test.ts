import { describeWithMysql } from '../support/mysql';
import { graphqlApiContract } from './graphql-api.contract';

graphqlApiContract('sqlite');
graphqlApiContract('memory');
describeWithMysql('on MariaDB', () => graphqlApiContract('mysql'));
